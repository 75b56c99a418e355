"""Bearer-token authentication: SimpleJWT's, with the token's user read by a
statement compiled once per process.

Every API request but the health check authenticates, so the user lookup is
the one query every request pays for. `User.objects.get(id=...)` builds and
compiles the same SELECT each time, which costs several times what the
database needs to answer it (about 140 of 160 µs on SQLite; the floor of
docs/benchmarks.md). `user_by_id` runs the same queryset prepared once
(chat_project/prepared.py): the same row, columns, values and signals.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from chat_project.prepared import PreparedQuery

_user_by_pk = PreparedQuery(get_user_model(), lambda pk: get_user_model()._default_manager.filter(pk=pk))


def user_by_id(user_id):
    """The user whose primary key is `user_id` (any value the pk field
    accepts), every concrete field loaded; None if there is none."""
    try:
        pk = get_user_model()._meta.pk.to_python(user_id)
    except ValidationError:
        return None
    found = _user_by_pk.instances(pk=pk)
    return found[0] if found else None


class JWTAuthentication(authentication.JWTAuthentication):
    """SimpleJWT's `JWTAuthentication` (same header, tokens, errors and
    checks), with the user read by `user_by_id`."""

    def get_user(self, validated_token):
        # SimpleJWT 5.5's get_user, with user_by_id for `objects.get`.
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as e:
            raise InvalidToken(_("Token contained no recognizable user identification")) from e
        if get_user_model()._meta.pk.name != api_settings.USER_ID_FIELD:
            return super().get_user(validated_token)
        user = user_by_id(user_id)
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        revoke_claim = validated_token.get(api_settings.REVOKE_TOKEN_CLAIM)
        if api_settings.CHECK_REVOKE_TOKEN and revoke_claim != get_md5_hash_password(user.password):
            raise AuthenticationFailed(_("The user's password has been changed."), code="password_changed")
        return user
