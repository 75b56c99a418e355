from django.contrib import admin
from django.urls import include, path

from webclient.views import SessionView, index

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/session/", SessionView.as_view(), name="session"),
    path("api/", include("threads.urls")),
    path("", index, name="webclient"),
]

# Errors raised outside DRF views (e.g. a bad Host header) still answer JSON under /api/.
handler400 = "threads.exceptions.json_bad_request"
handler403 = "threads.exceptions.json_permission_denied"
handler404 = "threads.exceptions.json_page_not_found"
handler500 = "threads.exceptions.json_server_error"
