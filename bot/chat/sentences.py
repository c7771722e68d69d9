"""Every sentence a failure can be told in, by key: the one place to change (and, later,
translate) what a member or an admin reads when something goes wrong.

An adapter, the poster or the job core names a sentence with `bot.providers.codes.Say`
(a key here and its parameters); `bot.chat.failures` fills it in when it is shown. A
`{placeholder}` missing from the parameters reads as empty. Sections follow who says it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# -- the job core's own endings (by code; see bot.chat.failures.TEMPLATES) ------------------

UNCERTAIN = (
    "The video service did not confirm that it accepted the job, so I stopped it rather "
    "than risk making (and charging) it twice. Your quota was refunded; please try again."
)
INTERRUPTED = (
    "The bot restarted while sending this job, and cannot tell whether the video service "
    "received it. It was stopped and your quota was refunded; please try again."
)
DEADLINE = (
    "The video service did not finish in time, so I stopped waiting. "
    "Your quota was refunded; please try again later."
)
INTERNAL = "Something went wrong inside the bot. Your quota was refunded; please try again."
FAILED = "The video service could not make this video. Your quota was refunded."
TASK_LOST = (
    "The video service accepted this job, but the bot could not record it, so it cannot "
    "follow it to the end. Your quota was refunded; please try again."
)
VENDOR_GONE = (
    "The video service has not been answering for a while, so this job was stopped before "
    "it was sent. Your quota was refunded; please try again later."
)
PROVIDER_DISABLED = "This job's video service is no longer enabled here. Your quota was refunded."
TOO_LARGE_NO_LINK = (
    "The video is larger than this bot may download, and the video service gives no link "
    "to it. Your quota was refunded."
)
REFUNDED = "Your quota was refunded."
# After every content-rule refusal, whichever service said it: what to change.
POLICY_ADVICE = (
    "To get past the content review, change what may break its rules (a real person, a "
    "brand or logo, violence, adult content) in the prompt or the image, then use "
    "**Edit prompt**."
)
UNKNOWN = "unknown error"

SENTENCES: Mapping[str, str] = MappingProxyType(
    {
        # -- posting the video (bot.chat.posting)
        "channel_too_small": (
            "The video is larger than this channel's upload limit ({limit}), and the video "
            "service gives no link to it. Your quota was refunded."
        ),
        "channel_gone": (
            "The channel of this job is gone, so the video could not be posted. "
            "Your quota was refunded."
        ),
        "missing_permissions": (
            "I am not allowed to post in this channel (I need Send Messages and Attach "
            "Files). Your quota was refunded."
        ),
        "token_expired": (
            "I could not post in the channel, and the command's reply expired before the "
            "video was ready. Your quota was refunded; ask an admin to let me post here."
        ),
        "discord_unreachable": "Discord could not be reached.",
        "discord_trouble": "Discord had a problem.",
        "discord_too_large": "Discord refused this post as too large. Your quota was refunded.",
        # -- every vendor (bot.providers.words, http, download, checks)
        "auth": "The video service refused the bot's API key; the server operator has been told.",
        "out_of_credit": (
            "The video service account is out of credit; the server operator has been told."
        ),
        "busy": "The video service is busy right now. Please try again in a moment.",
        "down": "The video service is having trouble right now. Please try again in a moment.",
        "bad_answer": "The video service gave an answer the bot could not read. Please try again.",
        "rejected": "The video service did not accept this request.",
        "rejected_because": "The video service did not accept this request: {reason}.",
        "not_ready": "The video is finished but not downloadable yet.",
        "gone": "The video service no longer knows this task.",
        "not_charged": "You were not charged.",
        "could_not_make": (
            "The video service could not make this video: {reason}. You were not charged."
        ),
        "no_task_id": (
            "The video service answered without a task number; the request may or may not "
            "have started."
        ),
        "too_large": "The video is larger than this bot is allowed to download.",
        "too_slow": (
            "The video service sent the video too slowly, so the bot stopped downloading it "
            "after {seconds:duration}."
        ),
        "empty_video": "{vendor} sent an empty video file.",
        "unsafe_link": "{vendor} returned a link this bot is not allowed to open.",
        "unreachable": "{vendor} could not be reached right now.",
        "no_answer_in_time": "{vendor} did not answer in time.",
        "connection_broke": "The connection to {vendor} broke off.",
        "unknown_model": "This model is not offered by the video service.",
        "image_format": "The image must be a JPEG, PNG or WebP picture.",
        "empty_prompt": "The prompt is empty: describe the video you want.",
        "no_images": "Images are not used for a text-only video.",
        "image_too_large": "The image is too large for the video service ({mb} MB at most).",
        "text_or_start_image": (
            "This video service only makes videos from text or from one start image."
        ),
        "one_start_image": "This video service takes exactly one start image.",
        "count.first_frame": "First-frame mode takes exactly one image.",
        "count.first_last": "First + last frame mode takes exactly two images.",
        "count.reference": "Reference mode takes one to three images.",
        # What `{options:options}` names an option by (keys joined by commas: "a or b").
        "option.negative_prompt": "a negative prompt",
        "option.seed": "a seed",
        "option.enhance_prompt": "prompt enhancement",
        "demo.failed": "The demo provider failed on purpose (the prompt contains {word}).",
        "demo.no_model": "The demo provider has no model called {model}.",
        "demo.no_task": "The demo task was not found.",
        "demo.too_large": "The demo video is larger than the download cap.",
        # -- apixo
        "apixo.out_of_credit": (
            "The video service account of this server's operator is out of credit; "
            "the operator has been told."
        ),
        "apixo.no_model": (
            "The video service does not offer this model right now; the server operator has "
            "been told."
        ),
        "apixo.expired": "The video service no longer has this video (its download link expired).",
        "apixo.no_image_url": (
            "The bot could not give your image to the video service. Please try again."
        ),
        "apixo.reference_landscape": (
            "Reference images only work for 16:9 (landscape) videos at this video service."
        ),
        "apixo.try_other": "Try a different prompt or settings.",
        "apixo.prompt_long": (
            "The prompt is too long for the video service (10,000 characters at most). "
            "Please shorten it."
        ),
        "apixo.image_large": "Your image is too large for the video service (10 MB at most).",
        "apixo.unavailable": (
            "This model is temporarily unavailable at the video service. Please try again later."
        ),
        "apixo.failed": (
            "The video service could not make this video. Try again, perhaps with a different "
            "prompt."
        ),
        "apixo.policy": "The video service's content review refused this request.",
        "apixo.nsfw": (
            "The video service flagged this request as adult or unsafe content, so it was not made."
        ),
        "apixo.image_policy": (
            "The video service's content review refused your image. Please use a different image."
        ),
        "apixo.bad_prompt": "The video service could not read this prompt. Please rephrase it.",
        "apixo.image_url": "The video service could not open your image. Please attach it again.",
        "apixo.image_format": (
            "The video service cannot use your image: please use a JPEG, PNG or WebP picture."
        ),
        "apixo.image_download": (
            "The video service could not download your image. Please try again."
        ),
        "apixo.timeout": (
            "The video service took too long to make this video and gave up. Please try again."
        ),
        "apixo.no_references": "{model} cannot use reference images; pick {instead}.",
        "apixo.no_mode": "{model} does not offer this mode.",
        "apixo.bad_aspect": "{model} makes {shapes} videos, not {aspect}.",
        "apixo.bad_resolution": "{model} renders at {sizes} only.",
        "apixo.bad_duration": "{model} only makes videos of {seconds} s.",
        # -- apiyi
        "apiyi.failed": (
            "The video service could not make this video (often a content review or an "
            "unsupported request)."
        ),
        "apiyi.try_other": "Try a different prompt or settings.",
        "apiyi.no_such_format": "The video service does not offer this resolution or shape.",
        "apiyi.only_durations": "At {resolution} the video service only makes videos of {lengths}.",
        # -- apiyi, earlier channel
        "apiyi_legacy.prompt_refused": (
            "The video service did not accept this prompt (too long, or against its content "
            "rules). Please change it."
        ),
        "apiyi_legacy.failed": (
            "The video service could not make this video (often a content review or an "
            "unsupported image)."
        ),
        "apiyi_legacy.link_failed": (
            "The finished video could not be downloaded from the video service yet."
        ),
        "apiyi_legacy.frames_only": (
            "{model} makes videos from a first frame (and optionally a last frame)."
        ),
        "apiyi_legacy.text_only": "{model} makes videos from text only; use a -fl model for images.",
        "apiyi_legacy.only_landscape": (
            "{model} only makes {aspect} videos; drop -landscape from the model name for 9:16."
        ),
        "apiyi_legacy.only_portrait": (
            "{model} only makes {aspect} videos; use its -landscape variant for 16:9."
        ),
        "apiyi_legacy.only_resolution": "{model} only renders at {resolution}.",
        "apiyi_legacy.only_length": "{model} only makes {length}-second videos.",
        "apiyi_legacy.no_options": "{model} does not take {options:options}.",
        # -- veo3o1
        "veo3o1.prompt_too_long": "The prompt is longer than the video service allows ({limit:,}).",
        "veo3o1.shape": "The video service makes 16:9 or 9:16 videos (or picks the shape itself).",
        "veo3o1.no_resolution": "The video service has no resolution option.",
        "veo3o1.only_length": "The video service only makes {seconds}-second videos.",
        "veo3o1.no_option": "The video service does not take {options:options}.",
        "veo3o1.credits": (
            "The server operator's account with the video service is out of credits; "
            "the operator has been told."
        ),
        "veo3o1.try_other": "Try a different prompt or image.",
        "veo3o1.failed": (
            "The video service could not make this video (it gives no reason; often a content "
            "review of the prompt or image)."
        ),
        "veo3o1.policy": "The video service refused this video under its content rules.",
        "veo3o1.upload_failed": (
            "Sending your image to the video service failed. Please try again in a moment."
        ),
        # -- yelinai
        "yelinai.start_image_only": "{label} only makes videos from one start image.",
        "yelinai.text_or_references": (
            "{label} only makes videos from text, or from text and reference images."
        ),
        # `options`: the names of the options asked for, joined by commas ("seed, length").
        "yelinai.no_options": (
            "{label} makes 8-second 16:9 videos at 720p and has no options for {options}."
        ),
        "yelinai.one_start_image": "{label} takes exactly one start image.",
        "yelinai.reference_images": "{label} takes 1 to {most} reference images.",
        "yelinai.no_such_mode": "{label} cannot use this mode.",
        "yelinai.no_image_url": (
            "Your image could not be handed to the video service; please attach it again."
        ),
        "yelinai.quota": (
            "The video service account is out of quota; the server operator has been told."
        ),
        "yelinai.no_model": (
            "The video service does not offer this model right now. Please pick another one."
        ),
        "yelinai.video_gone": "The finished video is no longer available from the video service.",
        "yelinai.try_other": "Try a different prompt or settings.",
        "yelinai.prompt_refused": "The video service refused the prompt.",
        "yelinai.prompt_refused_because": "The video service refused the prompt: {reason}.",
        "yelinai.refunded": "Your quota was refunded.",
        "yelinai.failed": "The video service could not make this video.",
        "yelinai.failed_because": "The video service could not make this video: {reason}.",
        "yelinai.policy": "The video service refused to make this video under its content rules.",
        "yelinai.policy_because": (
            "The video service refused to make this video under its content rules: {reason}."
        ),
        "yelinai.image_failed": "The video service could not download or use your image.",
        "yelinai.image_failed_because": (
            "The video service could not download or use your image: {reason}."
        ),
    }
)

# What the admins' alert channel is told (`Publisher.operator_alert`), by kind of trouble;
# `{said}` is what the member was told of the failure that set it off.
ALERTS: Mapping[str, str] = MappingProxyType(
    {
        "down": (
            "⚠️ **{provider}** seems to be down: {count} requests in a row failed "
            "(last: {last}). Jobs are waiting and will continue when it recovers; nothing "
            "is charged for jobs that fail."
        ),
        "recovered": (
            "✅ **{provider}** is back: a request succeeded after {count} failed in a row. "
            "Waiting jobs continue."
        ),
        "account": (
            "⚠️ **{provider}** refused this bot's account ({code}): {said} Job #{job} was "
            "refunded. The operator should check the {key_name} and the account's credit."
        ),
    }
)
