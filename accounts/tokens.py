"""JWT sessions.

- Rotating a refresh token blacklists it first, by inserting its
  BlacklistedToken row; the row is unique per token, so of concurrent
  refreshes of one token exactly one inserts it and the others get a 401.
"""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.utils import datetime_from_epoch


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """SimpleJWT's refresh, with the rules above. Answers what it answers
    (`access`, `refresh`); every refusal is a 401."""

    refresh = serializers.CharField()

    def validate(self, attrs):
        refresh = self.token_class(attrs["refresh"])  # signature, expiry, blacklist

        user = get_user_model().objects.filter(pk=refresh.payload.get(api_settings.USER_ID_CLAIM)).first()
        if user is None or not api_settings.USER_AUTHENTICATION_RULE(user):
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account")

        with transaction.atomic():
            self.blacklist_once(refresh, user)
            data = {"access": str(refresh.access_token)}
            refresh.set_jti()
            refresh.set_exp()
            refresh.set_iat()
            refresh.outstand()
        data["refresh"] = str(refresh)
        return data

    @staticmethod
    def blacklist_once(refresh, user) -> None:
        """Blacklist the token being rotated; a concurrent rotation that got
        there first makes this a 401. The insert decides, not a read."""
        outstanding, _created = OutstandingToken.objects.get_or_create(
            jti=refresh.payload[api_settings.JTI_CLAIM],
            defaults={
                "user": user,
                "created_at": refresh.current_time,
                "token": str(refresh),
                "expires_at": datetime_from_epoch(refresh.payload["exp"]),
            },
        )
        try:
            with transaction.atomic():
                BlacklistedToken.objects.create(token=outstanding)
        except IntegrityError:
            raise AuthenticationFailed(_("Token is blacklisted"), "token_not_valid") from None
