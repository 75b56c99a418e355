#!/usr/bin/env python
"""The plain DRF baseline's manage.py (bench/plain/README.md)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plain.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
