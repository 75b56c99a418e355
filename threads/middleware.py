"""Response headers for the JSON API (Django's SecurityMiddleware and
XFrameOptionsMiddleware add nosniff, Referrer-Policy, COOP, HSTS and
X-Frame-Options to every response)."""

API_PREFIX = "/api/"
# The Swagger UI is an HTML page with scripts: the strict policy is for data only.
HTML_PAGES = ("/api/docs/",)


class ApiSecurityHeadersMiddleware:
    """Answers under /api/ carry private data: no cache may keep them, and a
    browser that is tricked into rendering one as a page runs nothing in it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(API_PREFIX):
            response.headers.setdefault("Cache-Control", "no-store")
            if not request.path.startswith(HTML_PAGES):
                response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        return response
