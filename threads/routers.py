class ParticipantViewRouter:
    """Keep the `Participant` view out of everything that writes tables.

    Its rows are derived from `Thread`'s pair columns by a database view, so
    `dumpdata` must not dump them and `loaddata` must not try to insert them.
    """

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if app_label == "threads" and model_name == "participant":
            return False
        return None
