# memvault as a shared MCP server over streamable HTTP (CPU only).
#
#   docker build -t memvault .
#   docker run -d -p 8765:8765 -e MEMVAULT_TOKEN="$(openssl rand -hex 32)" \
#       -v memvault-data:/data memvault
#
# Clients connect to http://HOST:8765/mcp with "Authorization: Bearer <token>". The server
# refuses to listen off loopback without a token, so MEMVAULT_TOKEN must be set.
# Data: /data/memvault.db (a volume) unless MEMVAULT_*_URL point at external stores.
# See docs/deploy.md.

ARG PYTHON_IMAGE=python:3.11-slim

# -- build: the memvault wheel ----------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps --wheel-dir /dist .

# -- runtime ----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# memvault with every store driver (server); its embedder, e5, needs no PyTorch. With
# --build-arg EXTRAS=server,local (all-MiniLM-L6-v2), torch's CPU build is installed first, so
# that sentence-transformers does not pull the CUDA one (GBs).
ARG EXTRAS=server
ARG TORCH_SPEC=torch
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
COPY --from=build /dist/ /tmp/dist/
RUN set -eu; \
    case ",${EXTRAS}," in \
        *,local,*) pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "${TORCH_SPEC}" ;; \
    esac; \
    wheel=$(ls /tmp/dist/memvault-*.whl); \
    pip install --no-cache-dir "${wheel}${EXTRAS:+[${EXTRAS}]}"; \
    rm -rf /tmp/dist; \
    memvault --version

RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/memvault \
        --shell /usr/sbin/nologin memvault \
    && mkdir -p /data \
    && chown memvault:memvault /data

ENV MEMVAULT_DB=/data/memvault.db
VOLUME ["/data"]
WORKDIR /home/memvault
USER memvault

EXPOSE 8765

# /health needs no token; it answers 200 once the stores are open, 503 before or when one is down.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8765/health', timeout=4); sys.exit(r.status != 200)"]

CMD ["memvault", "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "8765"]
