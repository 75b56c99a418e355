"""OpenAPI: the token serializers of accounts/tokens.py document themselves
as SimpleJWT's do (drf-spectacular's extensions match exact classes)."""

from drf_spectacular.contrib.rest_framework_simplejwt import (
    TokenObtainPairSerializerExtension,
    TokenRefreshSerializerExtension,
    TokenVerifySerializerExtension,
)


class AccountsTokenObtainPairSerializerExtension(TokenObtainPairSerializerExtension):
    target_class = "accounts.tokens.TokenObtainPairSerializer"


class AccountsTokenRefreshSerializerExtension(TokenRefreshSerializerExtension):
    target_class = "accounts.tokens.TokenRefreshSerializer"


class AccountsTokenVerifySerializerExtension(TokenVerifySerializerExtension):
    target_class = "accounts.tokens.TokenVerifySerializer"
