from rest_framework import exceptions, permissions


class ReadOnlyToken(exceptions.PermissionDenied):
    default_detail = "This token is read-only: it can read everything and change nothing."
    default_code = "read_only_token"


class TokenScope(permissions.BasePermission):
    """Any valid token reads; only a read-write token changes anything."""

    def has_permission(self, request, view) -> bool:
        if request.auth is None:
            return False  # DRF answers 401: no valid token
        if request.method not in permissions.SAFE_METHODS and request.auth.read_only:
            raise ReadOnlyToken()
        return True
