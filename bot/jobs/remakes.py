"""New jobs made from earlier ones: Retry, New take, Remix (Edit prompt) and Continue.

What may have changed since the first job is checked as a new command would check it:
the server's rules, the vendor and model still offered and what it takes, the new words.
"""

from __future__ import annotations

import secrets
from abc import abstractmethod
from collections.abc import Iterable

from bot.jobs.access import Action, Asker
from bot.jobs.continuing import Continuation, plan
from bot.jobs.requests import (
    MAX_SEED,
    GenerationRequest,
    RequestInvalid,
    check_image,
    choose_model,
    fit,
    model_spec,
    prompt_limit,
    prompt_words,
    stored_request,
)
from bot.jobs.rules import check_content, is_exempt
from bot.providers.base import InputImage
from bot.providers.codes import say
from bot.providers.registry import ProviderRegistry
from bot.settings import Settings
from storage import GuildSettings, Job, JobStore


class Remakes:
    """The part of `VideoService` that remakes jobs (a mixin: it is the service)."""

    settings: Settings
    store: JobStore
    providers: ProviderRegistry

    @abstractmethod
    async def job_for(self, job_id: int, asker: Asker, action: Action) -> Job: ...

    @abstractmethod
    async def _rules(self, guild_id: int | None) -> GuildSettings | None: ...

    async def again(
        self, job_id: int, asker: Asker, *, prompt: str | None = None, new_seed: bool = False
    ) -> tuple[GenerationRequest, list[InputImage]]:
        """The request and images of an earlier job, for Retry (same settings, the same
        seed included), New take (`new_seed`: a fresh seed where the member gave one, so
        it is not a near-copy) and Remix (a new prompt: the Remix action, so a Remix can
        never pass as a Retry). What may have changed since is checked as a new command
        would check it: the server's rules, the vendor and model still offered and what
        it takes, and a Remix's new words."""
        action = Action.RETRY if prompt is None else Action.REMIX
        job = await self.job_for(job_id, asker, action)
        self._still_kept(job)
        request = stored_request(job)
        stored = await self.store.images(job.id)
        if len(stored) != request.image_count:
            raise RequestInvalid(say("refusal.images_gone", job=job_id))
        rules = await self._rules(job.guild_id)
        spec = model_spec(
            self.providers, *choose_model(request.provider, request.model, self.providers)
        )
        if prompt is not None:
            request = request.model_copy(update={"prompt": prompt_words(prompt)})
        if new_seed and request.seed is not None:
            request = request.model_copy(update={"seed": secrets.randbelow(MAX_SEED + 1)})
        fit(request, spec, max_prompt=self.settings.max_prompt)
        if rules is not None:
            check_content(rules, request)
        images = [InputImage(i.data, i.mime, i.filename, i.source_url) for i in stored]
        return request, images

    async def continuation(
        self, job_id: int, asker: Asker, role_ids: Iterable[int] = ()
    ) -> tuple[Job, Continuation]:
        """What a Continue of a delivered job would use (`bot.jobs.continuing`)."""
        job = await self.job_for(job_id, asker, Action.CONTINUE)
        if job.purged_at is not None or job.frame_at is None:
            raise RequestInvalid(say("refusal.frame_gone", job=job_id))
        rules = await self._rules(job.guild_id)
        exempt = is_exempt(rules, role_ids)
        request = stored_request(job)
        max_prompt = self.settings.max_prompt
        return job, plan(job, request, rules, self.providers, max_prompt=max_prompt, exempt=exempt)

    async def last_frame(self, job_id: int, request: GenerationRequest) -> InputImage:
        """A job's kept last frame, checked as the first frame of `request`'s model."""
        frame = await self.store.frame(job_id)
        if frame is None:
            raise RequestInvalid(say("refusal.frame_gone", job=job_id))
        spec = model_spec(self.providers, request.provider, request.model)
        return check_image(frame.data, slot="image", spec=spec, filename=frame.filename)

    def _still_kept(self, job: Job) -> None:
        if job.purged_at is not None:
            days = self.settings.retention_days
            raise RequestInvalid(say("refusal.prompt_gone", job=job.id, days=days))

    async def remix_limit(self, job: Job) -> int:
        """How long a Remix's prompt may be: the limit of the model it would go to.
        Refused, before the form opens, when the job's prompt is gone."""
        self._still_kept(job)
        spec = self.providers.model(job.provider, job.model)
        max_prompt = self.settings.max_prompt
        return prompt_limit(spec, max_prompt) if spec is not None else max_prompt
