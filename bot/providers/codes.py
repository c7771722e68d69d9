"""The names of what went wrong: raised by the adapters, the job core and the poster, read
by the job core, the stats and the words a member is shown.

A `StrEnum`, so a code is still the plain string stored in `jobs.error_code`, counted in
the metrics and shown in `/veo-admin stats`; the enum only makes sure the spelling the job
core branches on (`too_large`, `rate_limited`, ...) is the spelling the adapters raise. A
vendor's own failure code (a finished task's reason) may still travel as a plain string.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    # -- the account: the operator must act
    AUTH = "auth"
    QUOTA = "quota"
    INSUFFICIENT_CREDITS = "insufficient_credits"
    TOKEN_EXPIRED = "token_expired"
    # -- the vendor for now: try again later
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    UNEXPECTED_STATUS = "unexpected_status"
    ERROR_BODY = "error_body"
    BAD_ANSWER = "bad_answer"
    BAD_UPLOAD_ANSWER = "bad_upload_answer"
    UNAVAILABLE = "unavailable"
    # -- the way there
    BAD_URL = "bad_url"
    CONNECT_FAILED = "connect_failed"
    TIMEOUT = "timeout"
    CONNECTION_LOST = "connection_lost"
    UNSAFE_URL = "unsafe_url"
    NO_TASK_ID = "no_task_id"
    # -- this request
    REJECTED = "rejected"
    BAD_FORMAT = "bad_format"
    BAD_DURATION = "bad_duration"
    BAD_IMAGES = "bad_images"
    BAD_IMAGE_FORMAT = "bad_image_format"
    BAD_PROMPT = "bad_prompt"
    EMPTY_PROMPT = "empty_prompt"
    PROMPT_TOO_LONG = "prompt_too_long"
    INVALID_PROMPT = "invalid_prompt"
    INVALID_MODEL = "invalid_model"
    INVALID_PARAMETERS = "invalid_parameters"
    UNKNOWN_MODEL = "unknown_model"
    UNSUPPORTED_MODE = "unsupported_mode"
    UNSUPPORTED_OPTION = "unsupported_option"
    IMAGE_TOO_LARGE = "image_too_large"
    NO_IMAGE_URL = "no_image_url"
    CONTENT_POLICY = "content_policy"
    # -- the task and its result
    NOT_FOUND = "not_found"
    NOT_READY = "not_ready"
    GENERATION_FAILED = "generation_failed"
    NO_VIDEO_URL = "no_video_url"
    VIDEO_GONE = "video_gone"
    RESULT_EXPIRED = "result_expired"
    EMPTY_VIDEO = "empty_video"
    CDN_ERROR = "cdn_error"
    DOWNLOAD_FAILED = "download_failed"
    TOO_LARGE = "too_large"
    DOWNLOAD_TOO_SLOW = "download_too_slow"
    # -- the job core's own endings
    PROVIDER_DISABLED = "provider_disabled"
    UNCERTAIN = "uncertain"
    VENDOR_DOWN = "vendor_down"
    VENDOR_FAILED = "vendor_failed"
    INTERRUPTED = "interrupted"
    DEADLINE = "deadline"
    INTERNAL_ERROR = "internal_error"
    # -- posting to Discord
    CHANNEL_GONE = "channel_gone"
    MISSING_PERMISSIONS = "missing_permissions"
    NETWORK = "network"
    # -- the base classes' defaults
    PROVIDER_ERROR = "provider_error"
