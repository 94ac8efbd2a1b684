FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY detectors ./detectors
COPY policies ./policies
COPY reports ./reports
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /var/lib/dlp-gateway --create-home dlpgw

USER dlpgw
EXPOSE 8080
VOLUME ["/var/lib/dlp-gateway"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/_dlp/healthz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["dlp-gateway"]
CMD ["serve", "--config", "/etc/dlp-gateway/gateway.yaml"]
