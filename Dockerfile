# temporal-executor: the API (`serve`) or the worker (`worker`) from one image.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[postgres]"

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 executor
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY config/temporal-executor.yaml /etc/temporal-executor/config.yaml
USER executor
ENV TEMPORAL_EXECUTOR_CONFIG=/etc/temporal-executor/config.yaml \
    XDG_STATE_HOME=/home/executor/.local/state \
    PYTHONUNBUFFERED=1 \
    TEMPORAL_EXECUTOR__LOGGING__FORMAT=json
# 8080: the API (`serve`); 9464: a worker's /metrics (observability.metrics_port).
EXPOSE 8080 9464
ENTRYPOINT ["temporal-executor"]
CMD ["serve"]
