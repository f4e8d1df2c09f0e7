"""Questions answered by an OpenAI-compatible model, with one deadline over the whole call.

The seed's bot hung because a synchronous OpenAI call held a worker thread for up to 305 s
(and the client's own defaults allow ten minutes per try, with retries). Here the call is
async, the client retries at most once, and ``asyncio.timeout`` bounds everything —
connection, retries and streaming — so a hung model costs one task until the deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from oar.errors import IntegrationAuthError, IntegrationError, IntegrationTimeoutError
from oar.logs import get_logger
from oar.settings import Settings
from oar.slack.conversations import Turn

log = get_logger(__name__)

SYSTEM_PROMPT = """\
You are OAR, the release bot of the OpenShift QE release team. You help people run the
z-stream release checklist: creating the test report, taking ownership of advisories,
updating the bug list, image consistency checks, Greenwave CVP tests, CVE tracker bugs,
pushing to CDN staging, stage testing, signed-image checks, dropping bugs and changing the
advisory status (release approval), which waits durably for the payload metadata URL.
Commands are typed in Slack as `oar -r <release> <command>`, `oarctl …` or `jobctl …`;
`help` lists the ones the asker may run. Answer briefly and concretely; when an action is
needed, name the exact command. If you do not know, say so instead of guessing."""

OnText = Callable[[str], Awaitable[None]]


class Assistant:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        timeout: float,
        max_tokens: int = 2048,
    ) -> None:
        self.model = model
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.client = AsyncOpenAI(
            base_url=f"{base_url.rstrip('/')}/v1",
            api_key=api_key,
            max_retries=1,
            timeout=timeout,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Assistant | None:
        """The assistant, or None unless MODEL_API_BASE, _KEY and _NAME are all set."""
        if not (settings.model_api_base and settings.model_api_key and settings.model_api_name):
            return None
        return cls(
            base_url=settings.model_api_base,
            api_key=settings.model_api_key.get_secret_value(),
            model=settings.model_api_name,
            timeout=settings.llm_timeout,
        )

    async def answer(self, history: Sequence[Turn], question: str, on_text: OnText) -> str:
        """Stream an answer, calling ``on_text`` with the text so far; the full text is
        returned. IntegrationTimeoutError past the deadline, IntegrationError otherwise."""
        messages: list[ChatCompletionMessageParam] = [{"role": "system", "content": SYSTEM_PROMPT}]
        for turn in history:
            if turn.role == "assistant":
                messages.append({"role": "assistant", "content": turn.text})
            else:
                messages.append({"role": "user", "content": turn.text})
        messages.append({"role": "user", "content": question})
        started = time.monotonic()
        parts: list[str] = []
        try:
            async with asyncio.timeout(self.timeout):
                stream = await self.client.chat.completions.create(
                    model=self.model,
                    messages=messages,
                    stream=True,
                    max_tokens=self.max_tokens,
                )
                async with stream:
                    async for chunk in stream:
                        if not chunk.choices:
                            continue
                        delta = chunk.choices[0].delta.content
                        if delta:
                            parts.append(delta)
                            await on_text("".join(parts))
        except TimeoutError:
            log.warning("assistant.timeout", seconds=self.timeout)
            raise IntegrationTimeoutError(
                "LLM", f"no complete answer within {self.timeout:g}s (OAR_LLM_TIMEOUT)"
            ) from None
        except openai.APITimeoutError:
            raise IntegrationTimeoutError(
                "LLM", f"no answer within {self.timeout:g}s (OAR_LLM_TIMEOUT)"
            ) from None
        except openai.AuthenticationError as exc:
            raise IntegrationAuthError("LLM", "MODEL_API_KEY", status_code=exc.status_code) from exc
        except openai.APIStatusError as exc:
            raise IntegrationError(
                "LLM", f"the model answered HTTP {exc.status_code}", status_code=exc.status_code
            ) from exc
        except openai.APIError as exc:
            raise IntegrationError("LLM", f"{type(exc).__name__}: {exc.message}") from exc
        text = "".join(parts).strip()
        log.info(
            "assistant.answered", seconds=round(time.monotonic() - started, 2), chars=len(text)
        )
        return text

    async def close(self) -> None:
        await self.client.close()
