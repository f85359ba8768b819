# The flux-auth sample service under opentelemetry-instrument, as the local
# stack runs it. Build from the repository root:
#   docker build -f deploy/compose/service.Dockerfile -t flux-auth:0.1.0 .
FROM python:3.11.14-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY otel_flux ./otel_flux
RUN pip install ".[demo]" && useradd --system --uid 10001 flux
USER 10001
EXPOSE 8000
ENV OTEL_SERVICE_NAME=flux-auth
CMD ["opentelemetry-instrument", "uvicorn", "otel_flux.demo:app", "--host", "0.0.0.0", "--port", "8000"]
