"""The pages people look at, served by the API itself: the ops console at `/ops` and the try-it
page at `/`. Static HTML, CSS and JavaScript shipped in this package (`static/`), no build step
and no CDN; they call the API's own routes. Every script and style is a file, so the pages work
under a strict Content-Security-Policy (`pages.content_security_policy`)."""
