"""The pipeline's worker contract in Python: the same manifest result as the bundled Node worker.

Everything comes from the environment the Fargate task (or `npm start -- --task-command`) sets; what
happened is told by the exit code and one JSON summary line on stdout. See README "The worker contract".

Exit codes: 0 processed / object gone / superseded / skipped, 1 failure, 2 bad configuration,
143 stopped by SIGTERM (no result written in any case but 0-processed).

Written for boto3 from 1.26 (Debian 12's python3-boto3) on: that release reads AWS_DEFAULT_REGION but not
AWS_REGION, and ignores AWS_ENDPOINT_URL_S3, so both are passed to the client here.
"""

import codecs
import datetime
import hashlib
import json
import os
import re
import signal
import sys
import time

import boto3
import botocore.config
import botocore.exceptions

WORKER_VERSION = "python-example-1"
PROCESSOR = "manifest"
RESULT_SUFFIX = ".json"
MAX_KEY_BYTES = 1024
DEFAULT_OUTPUT_PREFIX = "processed/"
# Bounded memory: the object is read in chunks of this size, and only the first SNIFF_BYTES are kept.
CHUNK_BYTES = 1024 * 1024
SNIFF_BYTES = 4100
GENERIC_CONTENT_TYPES = {"", "application/octet-stream", "binary/octet-stream"}
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
BINARY_CONTENT_TYPE = "application/octet-stream"
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

# The Node worker sniffs hundreds of formats with the file-type library; the standard library has no
# equivalent, so this recognises the most common ones by their magic numbers and otherwise falls back
# to the stored Content-Type, then text or binary, as the Node worker does.
MAGIC_NUMBERS = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"BZh", "application/x-bzip2"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"(\xb5/\xfd", "application/zstd"),
    (b"PAR1", "application/vnd.apache.parquet"),
]


class ConfigError(Exception):
    def __init__(self, variable, message):
        super().__init__(message)
        self.variable = variable


class Terminated(BaseException):
    """Raised from the SIGTERM handler: ECS sends SIGTERM on StopTask and on a Step Functions timeout."""


def log(level, message, **fields):
    # One JSON object per line, flushed: CloudWatch Logs Insights discovers the fields by itself.
    line = {"time": now_iso(), "level": level, "message": message, **fields}
    sys.stdout.write(json.dumps(line, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def optional(env, name):
    # Step Functions and shells pass absent optional values as "", which means "not given".
    value = env.get(name)
    return value if value else None


def required(env, name, fix):
    value = env.get(name)
    if not value:
        state = "not set" if value is None else "empty"
        raise ConfigError(name, f"{name} is {state}: the task must be started with BUCKET and KEY overrides; {fix}")
    return value


def bucket_name(name, value):
    if not BUCKET_NAME.match(value) or ".." in value:
        raise ConfigError(
            name,
            f"{name} {json.dumps(value)} is not a valid S3 bucket name: use 3-63 lowercase letters, digits, "
            "dots or hyphens, starting and ending with a letter or digit",
        )
    return value


def normalize_etag(etag):
    etag = etag[2:] if etag.startswith("W/") else etag
    return etag[1:-1] if len(etag) >= 2 and etag.startswith('"') and etag.endswith('"') else etag


def read_config(env):
    bucket = bucket_name("BUCKET", required(env, "BUCKET", "set BUCKET to the bucket name"))
    # The key is used exactly as given: EventBridge delivers it unencoded, so decoding would corrupt it.
    key = required(env, "KEY", "set KEY to the object key, exactly as it appears in the S3 event")
    output_bucket = bucket_name("OUTPUT_BUCKET", optional(env, "OUTPUT_BUCKET") or bucket)
    output_prefix = env.get("OUTPUT_PREFIX", DEFAULT_OUTPUT_PREFIX)
    if output_prefix == "" and output_bucket == bucket:
        raise ConfigError(
            "OUTPUT_PREFIX",
            "OUTPUT_PREFIX is empty while OUTPUT_BUCKET is the input bucket: results would land beside the "
            'inputs and trigger the pipeline again; set OUTPUT_PREFIX (default "processed/") or a separate OUTPUT_BUCKET',
        )
    if len((output_prefix + key + RESULT_SUFFIX).encode("utf-8")) > MAX_KEY_BYTES:
        raise ConfigError(
            "KEY",
            f'KEY is too long: OUTPUT_PREFIX + KEY + "{RESULT_SUFFIX}" exceeds S3\'s {MAX_KEY_BYTES}-byte key '
            "limit; shorten OUTPUT_PREFIX or the object key",
        )
    etag = optional(env, "ETAG")
    if etag is not None:
        bare = normalize_etag(etag)
        if bare == "" or re.search(r'["\s]', bare):
            raise ConfigError(
                "ETAG",
                f"ETAG {json.dumps(etag)} is not an entity tag: pass the object's ETag from the S3 event "
                "(detail.object.etag), with or without quotes, or leave ETAG unset",
            )
        etag = bare
    return {
        "bucket": bucket,
        "key": key,
        "etag": etag,
        "versionId": optional(env, "VERSION_ID"),
        "outputBucket": output_bucket,
        "outputPrefix": output_prefix,
    }


def s3_client(env):
    # Path-style addressing has no standard variable; AWS_S3_FORCE_PATH_STYLE=true is the local S3's.
    path_style = env.get("AWS_S3_FORCE_PATH_STYLE") == "true"
    return boto3.session.Session().client(
        "s3",
        region_name=optional(env, "AWS_REGION") or optional(env, "AWS_DEFAULT_REGION"),
        endpoint_url=optional(env, "AWS_ENDPOINT_URL_S3") or optional(env, "AWS_ENDPOINT_URL"),
        config=botocore.config.Config(
            s3={"addressing_style": "path"} if path_style else {},
            retries={"mode": "standard"},
        ),
    )


def error_code(error):
    return error.response.get("Error", {}).get("Code", "")


def http_status(error):
    return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def is_not_found(error):
    # A missing bucket is also a 404 but means misconfiguration, not a deleted object: it stays an error.
    code = error_code(error)
    return code in ("NoSuchKey", "NoSuchVersion") or (code in ("404", "NotFound") and http_status(error) == 404)


def is_precondition_failed(error):
    return http_status(error) == 412 or error_code(error) == "PreconditionFailed"


def pinned(config):
    """GetObject/HeadObject arguments that pin the version and ETag the event named."""
    args = {"Bucket": config["bucket"], "Key": config["key"]}
    if config["versionId"]:
        args["VersionId"] = config["versionId"]
    if config["etag"]:
        args["IfMatch"] = f'"{config["etag"]}"'
    return args


def looks_like_text(data, truncated):
    """Valid UTF-8 with no NUL bytes; a multi-byte character cut at the end of a prefix is not an error."""
    if b"\x00" in data:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=not truncated)
        return True
    except UnicodeDecodeError:
        return False


def content_type_of(head, stored, is_text):
    # Magic numbers beat labels (uploads are often mislabelled); a specific stored type beats a guess.
    for magic, mime in MAGIC_NUMBERS:
        if head.startswith(magic):
            return mime
    stored = (stored or "").strip()
    if stored.lower() not in GENERIC_CONTENT_TYPES:
        return stored
    return TEXT_CONTENT_TYPE if is_text else BINARY_CONTENT_TYPE


def manifest(chunks, stored_content_type):
    """Size, SHA-256, content type and line count in one pass, holding only the first SNIFF_BYTES."""
    digest = hashlib.sha256()
    head = bytearray()
    size = 0
    newlines = 0
    last_byte = None
    is_text = None  # decided from the head, like git and file(1); binary objects then skip line counting
    for chunk in chunks:
        if not chunk:
            continue
        digest.update(chunk)
        size += len(chunk)
        last_byte = chunk[-1]
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
            if len(head) == SNIFF_BYTES:
                is_text = looks_like_text(bytes(head), True)
        if is_text is not False:
            newlines += chunk.count(b"\n")
    text = looks_like_text(bytes(head), False) if size == len(head) else is_text is True
    lines = newlines + (1 if size > 0 and last_byte != 0x0A else 0) if text else None
    return {
        "size": size,
        "sha256": digest.hexdigest(),
        "contentType": content_type_of(bytes(head), stored_content_type, text and size > 0),
        "lines": lines,
    }


def run(env, started_at, started):
    """Returns (outcome, level, message, fields); raises Terminated on SIGTERM."""
    try:
        config = read_config(env)
    except ConfigError as error:
        return "config-error", "error", str(error), {"variable": error.variable}

    ref = {name: config[name] for name in ("bucket", "key", "etag", "versionId") if config[name] is not None}
    result_key = config["outputPrefix"] + config["key"] + RESULT_SUFFIX

    def end(outcome, level, message, **fields):
        return outcome, level, message, {**ref, "durationMs": elapsed_ms(started), **fields}

    # A result written into the watched prefix would start the pipeline again, for ever.
    if config["outputBucket"] == config["bucket"] and config["key"].startswith(config["outputPrefix"]):
        return end("skipped", "warn", f'key is under OUTPUT_PREFIX "{config["outputPrefix"]}"; skipped to avoid a loop')

    client = s3_client(env)
    size = 0
    try:
        log("info", "reading object", processor=PROCESSOR, **ref)
        try:
            response = client.get_object(**pinned(config))
        except botocore.exceptions.ClientError as error:
            if is_not_found(error):
                return end("not-found", "info", "object not found (404): it was deleted after the event; nothing to do")
            if is_precondition_failed(error):
                return end("superseded", "info", "object was superseded (412 on the pinned ETag/version); nothing to do")
            raise
        etag = normalize_etag(response["ETag"]) if response.get("ETag") else None
        body = response["Body"]
        # Some S3-compatible servers ignore If-Match, so the ETag is compared here too.
        if config["etag"] is not None and etag != config["etag"]:
            body.close()
            return end(
                "superseded",
                "info",
                "object was superseded (412 on the pinned ETag/version); nothing to do",
                currentEtag=etag,
            )
        output = manifest(body.iter_chunks(CHUNK_BYTES), response.get("ContentType"))
        size = output["size"]
        if not still_current(client, config):
            return end(
                "superseded", "info", "object changed while it was processed; the newer version owns the result", bytes=size
            )
        result = {
            "bucket": config["bucket"],
            "key": config["key"],
            "versionId": response.get("VersionId") or config["versionId"],
            "etag": etag,
            **output,
            "processor": PROCESSOR,
            "workerVersion": WORKER_VERSION,
            "startedAt": started_at,
            "durationMs": elapsed_ms(started),
        }
        # One PutObject: S3 makes it visible whole or not at all, so a result is never half-written.
        client.put_object(
            Bucket=config["outputBucket"],
            Key=result_key,
            Body=(json.dumps(result, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
            ContentType="application/json",
        )
        return end(
            "processed",
            "info",
            "processed",
            bytes=size,
            resultBucket=config["outputBucket"],
            resultKey=result_key,
            result=output,
        )
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, OSError) as error:
        fields = {"errorName": type(error).__name__, "error": str(error)}
        if isinstance(error, botocore.exceptions.ClientError):
            fields.update(errorName=error_code(error), httpStatus=http_status(error))
        return end("failed", "error", "failed; no result written", bytes=size, **fields)


def still_current(client, config):
    """True if the pinned ETag/version is still current, so an old version never overwrites a newer result."""
    if config["etag"] is None and config["versionId"] is None:
        return True
    args = pinned(config)
    args.pop("VersionId", None)
    try:
        head = client.head_object(**args)
    except botocore.exceptions.ClientError as error:
        if is_not_found(error) or is_precondition_failed(error):
            return False
        raise
    etag_matches = config["etag"] is None or normalize_etag(head.get("ETag", "")) == config["etag"]
    # Objects written while versioning was off or suspended have the version id "null".
    version_matches = config["versionId"] is None or (head.get("VersionId") or "null") == config["versionId"]
    return etag_matches and version_matches


def elapsed_ms(started):
    return round((time.monotonic() - started) * 1000)


EXIT_CODES = {"processed": 0, "not-found": 0, "superseded": 0, "skipped": 0, "failed": 1, "config-error": 2}


def main():
    started_at = now_iso()
    started = time.monotonic()

    def on_sigterm(signum, _frame):
        raise Terminated(signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        outcome, level, message, fields = run(os.environ, started_at, started)
        exit_code = EXIT_CODES[outcome]
    except Terminated as stop:
        signum = stop.args[0]
        outcome, level, exit_code = "terminated", "warn", 128 + signum
        message = f"received {signal.Signals(signum).name}; stopped before finishing, no result written"
        fields = {"signal": signal.Signals(signum).name, "durationMs": elapsed_ms(started)}
    except Exception as error:  # noqa: BLE001 - the contract: any other failure is exit 1, never a traceback alone
        outcome, level, exit_code = "failed", "error", 1
        message = "unexpected failure; no result written"
        fields = {"errorName": type(error).__name__, "error": str(error)}
    log(level, message, **fields, outcome=outcome, exitCode=exit_code, summary=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
