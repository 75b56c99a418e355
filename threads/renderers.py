"""The API's JSON renderer: every user shown in a response carries their
presence (`is_online`, `last_seen`), looked up once per response for all of
them (threads.presence.annotate: one Redis round trip, no query)."""

from rest_framework.renderers import JSONRenderer

from . import presence


class PresenceJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is None or response.status_code < 400:
            presence.annotate(data)
        return super().render(data, accepted_media_type, renderer_context)
