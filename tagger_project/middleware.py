"""Project-wide response policies that no single view should have to remember."""

from django.utils.cache import add_never_cache_headers


class PrivatePagesMiddleware:
    """HTML pages are never stored by any cache: they show one user's sessions and tags.

    `no-store` (with Django's never-cache set) also keeps a signed-out
    browser's Back button from showing the last page from disk. A view that
    chose its own Cache-Control keeps it.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        html = response.get("Content-Type", "").startswith("text/html")
        if html and "Cache-Control" not in response:
            add_never_cache_headers(response)
        return response
