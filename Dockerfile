# Drumbeat bot: HTTP mode on $PORT (or Socket Mode when SLACK_APP_TOKEN is set).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PORT=3000 \
    DRUMBEAT_CONFIG=/config/drumbeat.toml \
    MPLCONFIGDIR=/tmp/matplotlib

RUN useradd --create-home --uid 10001 drumbeat
WORKDIR /app

COPY pyproject.toml constraints.txt README.md ./
COPY bot ./bot
COPY rhythms ./rhythms
COPY metrics ./metrics
COPY migrations ./migrations
COPY examples ./examples
RUN pip install -c constraints.txt ".[postgres]"

USER drumbeat
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"

CMD ["sh", "-c", "drumbeat migrate && exec drumbeat run --port ${PORT}"]
