# modbot: the moderation service. Build:  docker build -t modbot .
# Bake model weights into the image (for hosts without network at run time):
#   docker build --build-arg BAKE_MODEL=original -t modbot .

# Stage 1: the modbot wheel, the rule engine's hot modules compiled with mypyc (setup.py:
# the same hits, about 1.25x the comments per second). The compiler stays in this stage.
FROM python:3.11-slim AS wheel
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN pip install "setuptools>=68" wheel "mypy==2.4.1"
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY bot ./bot
RUN MODBOT_COMPILE=1 pip wheel --no-build-isolation --no-deps --wheel-dir /wheels .

# Stage 2: the service.
FROM python:3.11-slim

ARG BAKE_MODEL=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TORCH_HOME=/opt/modbot/cache/torch \
    HF_HOME=/opt/modbot/cache/huggingface \
    MODBOT_RULES_DIR=/opt/modbot/rules

WORKDIR /opt/modbot

# CPU-only torch first, from PyTorch's CPU index: the default wheel pulls CUDA (several GB).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY --from=wheel /wheels /tmp/wheels
COPY rules ./rules
RUN pip install /tmp/wheels/modbot-*.whl && rm -rf /tmp/wheels && modbot --version

RUN if [ -n "$BAKE_MODEL" ]; then modbot models pull --model "$BAKE_MODEL"; fi

RUN useradd --system --uid 10001 --no-create-home --home-dir /opt/modbot modbot \
    && mkdir -p /var/lib/modbot /etc/modbot /opt/modbot/cache \
    && chown -R modbot /var/lib/modbot /opt/modbot/cache
COPY config.example.yaml /etc/modbot/config.example.yaml

USER modbot
VOLUME ["/var/lib/modbot"]
# 8080: webhooks and /healthz; 8081: the moderators' review page (review.enabled)
EXPOSE 8080 8081

# Mount your config at /etc/modbot/config.yaml with store.path under /var/lib/modbot,
# rules.paths: [/opt/modbot/rules] (or your own) and server.host: 0.0.0.0.
HEALTHCHECK --interval=30s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

ENTRYPOINT ["modbot"]
CMD ["run", "-c", "/etc/modbot/config.yaml"]
