"""Every error the API gives is JSON that says what went wrong."""

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler


def api_exception_handler(exc, context):
    """DRF's handler, plus: a Django ValidationError raised by a service is a 400
    with the same shape as a serializer error."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    return exception_handler(exc, context)


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


@csrf_exempt  # like DRF's views: API clients send tokens, not CSRF cookies
def api_not_found(request, *args, **kwargs):
    """Answer for any path under /api/ that no endpoint serves."""
    return JsonResponse({"detail": "Not found. No API endpoint at this path."}, status=404)


def json_server_error(request, *args, **kwargs):
    """handler500: JSON for API clients, never a stack trace; a 503 with
    Retry-After when the error is a dependency's outage (chat_project.outages)."""
    import sys

    from django.views.defaults import server_error

    from chat_project.outages import dependency_down, outage_response

    dependency = dependency_down(sys.exc_info()[1])
    if dependency is not None:
        return outage_response(request, dependency)

    if _wants_json(request):
        return JsonResponse({"detail": "Internal server error."}, status=500)
    return server_error(request, *args, **kwargs)


def json_bad_request(request, exception=None, *args, **kwargs):
    """handler400, which Django calls for SuspiciousOperation: JSON under /api/,
    and a 413 that names the limit when the body is too large."""
    from django.views.defaults import bad_request

    if _wants_json(request):
        if isinstance(exception, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return JsonResponse({"detail": f"Request body too large: the limit is {limit} bytes."}, status=413)
        return JsonResponse({"detail": "Bad request."}, status=400)
    return bad_request(request, exception, *args, **kwargs)


def json_page_not_found(request, exception=None, *args, **kwargs):
    from django.views.defaults import page_not_found

    if _wants_json(request):
        return api_not_found(request)
    return page_not_found(request, exception, *args, **kwargs)


def json_csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: the admin keeps Django's page; API paths answer JSON."""
    from django.views.csrf import csrf_failure

    if _wants_json(request):
        return JsonResponse({"detail": f"CSRF check failed: {reason}"}, status=403)
    return csrf_failure(request, reason=reason)


def json_permission_denied(request, exception=None, *args, **kwargs):
    from django.views.defaults import permission_denied

    if _wants_json(request):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return permission_denied(request, exception, *args, **kwargs)
