"""``ganforge serve``: a trained run as an HTTP image API (Starlette under uvicorn). See docs/serve.md."""
