"""OpenAPI: the token serializers of accounts/tokens.py and the bearer
authentication of accounts/authentication.py document themselves as
SimpleJWT's do (drf-spectacular's extensions match exact classes)."""

from drf_spectacular.contrib.rest_framework_simplejwt import (
    SimpleJWTScheme,
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


class AccountsJWTScheme(SimpleJWTScheme):
    target_class = "accounts.authentication.JWTAuthentication"
