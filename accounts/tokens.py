"""JWT sessions: login time carried through rotations, one winner per
rotation, and revocation when a password changes.

- Every refresh token (and the access tokens made from it) carries
  `auth_time`, when its user logged in with a password. Rotation keeps it,
  and a refresh later than `JWT_REFRESH_MAX_LIFETIME_DAYS` after it is
  refused: the user logs in again. No rotated token outlives that either.
- Rotating a refresh token blacklists it first, by inserting its
  BlacklistedToken row; the row is unique per token, so of concurrent
  refreshes of one token exactly one inserts it and the others get a 401.
- Tokens carry a hash of the user's password hash (SimpleJWT's
  CHECK_REVOKE_TOKEN), checked on every request, on refresh and by the
  WebSocket: a password change ends every access token at once, and
  `revoke_refresh_tokens` (called on every change of the hash, see
  accounts.signals) blacklists every outstanding refresh token.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.utils import aware_utcnow, datetime_from_epoch, datetime_to_epoch, get_md5_hash_password

AUTH_TIME_CLAIM = "auth_time"


def max_refresh_lifetime() -> timedelta:
    return settings.JWT_REFRESH_MAX_LIFETIME


def password_claim_matches(token, user) -> bool:
    """Whether `token` was issued under the user's current password."""
    return token.get(api_settings.REVOKE_TOKEN_CLAIM) == get_md5_hash_password(user.password)


def token_still_valid(token, user) -> bool:
    """Whether `token` was issued under the user's current password and after
    the user last logged out everywhere (one query: the WebSocket's
    authentication and refresh ask; REST requests check only the password,
    for free, and let a token live out its short lifetime)."""
    from .models import SessionCutoff

    if not password_claim_matches(token, user):
        return False
    cutoff = SessionCutoff.objects.filter(user_id=user.pk).values_list("not_before", flat=True).first()
    # iat is in whole seconds: a token from the cutoff's own second is refused too.
    return cutoff is None or token.get("iat", 0) > datetime_to_epoch(cutoff)


class RefreshToken(tokens.RefreshToken):
    @classmethod
    def for_user(cls, user):
        token = super().for_user(user)
        token[AUTH_TIME_CLAIM] = token["iat"]
        return token


class TokenObtainPairSerializer(jwt_serializers.TokenObtainPairSerializer):
    token_class = RefreshToken


class TokenVerifySerializer(jwt_serializers.TokenVerifySerializer):
    """SimpleJWT's verify, which checks only the signature, expiry and
    blacklist, plus what every use of a token checks: an active user, and no
    password change or log-out everywhere since it was issued (401 if not)."""

    def validate(self, attrs):
        data = super().validate(attrs)
        token = tokens.UntypedToken(attrs["token"])
        try:
            user_id = int(token.get(api_settings.USER_ID_CLAIM))
        except (TypeError, ValueError):
            raise TokenError(_("Token has no valid user")) from None
        user = get_user_model().objects.filter(pk=user_id).first()
        if user is None or not api_settings.USER_AUTHENTICATION_RULE(user) or not token_still_valid(token, user):
            raise TokenError(_("Token is no longer valid (its session has ended)"))
        return data


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """SimpleJWT's refresh, with the rules above. Answers what it answers
    (`access`, `refresh`); every refusal is a 401."""

    refresh = serializers.CharField()
    token_class = RefreshToken

    def validate(self, attrs):
        refresh = self.token_class(attrs["refresh"])  # signature, expiry, blacklist

        user = get_user_model().objects.filter(pk=refresh.payload.get(api_settings.USER_ID_CLAIM)).first()
        if user is None or not api_settings.USER_AUTHENTICATION_RULE(user):
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account")
        if not token_still_valid(refresh, user):
            raise AuthenticationFailed(
                _("The session was ended (a password change or a log-out everywhere); log in again."), "session_ended"
            )
        auth_time = refresh.payload.get(AUTH_TIME_CLAIM)
        if not isinstance(auth_time, int):
            raise AuthenticationFailed(_("Token has no login time; log in again."), "token_not_valid")
        ends = datetime_from_epoch(auth_time) + max_refresh_lifetime()
        if aware_utcnow() >= ends:
            raise AuthenticationFailed(_("The session is too old; log in again."), "session_expired")

        with transaction.atomic():
            self.blacklist_once(refresh, user)
            data = {"access": str(refresh.access_token)}
            refresh.set_jti()
            refresh.set_exp()
            refresh.set_iat()
            refresh.payload["exp"] = min(refresh.payload["exp"], datetime_to_epoch(ends))
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


def revoke_refresh_tokens(user_id: int) -> int:
    """Blacklist every unexpired refresh token of the user; how many were outstanding."""
    live = OutstandingToken.objects.filter(
        user_id=user_id, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    ids = list(live.values_list("pk", flat=True))
    BlacklistedToken.objects.bulk_create([BlacklistedToken(token_id=pk) for pk in ids], ignore_conflicts=True)
    return len(ids)
