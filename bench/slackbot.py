"""Benchmark the Slack bot against the seed's synchronous design, side by side.

Workload (issue 5's load scenario): N messages mentioning the bot, each in its own
thread, sent in one burst; a fraction of them go to a model that hangs. Both bots talk
Socket Mode to the same Slack stand-in and use the same OpenAI-compatible stand-in:

* OAR: the real bot (Bolt ``AsyncApp`` + ``AsyncOpenAI``, dedupe in SQLite, one operation
  per thread, total deadline per answer);
* baseline: seed 003's "before" — a synchronous Bolt ``App`` on the SDK's Socket Mode
  handler with its default pool of 10 workers, calling the synchronous OpenAI client with
  the same timeout, and posting the answer (or a timeout reply) in the thread.

For each it prints the completed replies per second — the answers the model can give,
over the time until the last of them reached its thread, which is what people waiting
in Slack notice while other calls hang — the reply latency p50/p95/p99 of those answers,
the time until every message had its reply (answer or explicit timeout), and the ratios.
Goals: every message answered or explicitly failed; OAR's throughput at least 10x the
baseline's.

    python bench/slackbot.py [--messages 50] [--hanging 15] [--timeout 10] [--delay 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

import openai  # noqa: E402
from slack_bolt import App  # noqa: E402
from slack_bolt.adapter.socket_mode import SocketModeHandler  # noqa: E402
from slack_sdk import WebClient  # noqa: E402

from oar.cli.oarctl import programs  # noqa: E402
from oar.logs import configure_logging  # noqa: E402
from oar.sandbox.llm import LLMStandIn  # noqa: E402
from oar.sandbox.seed import SLACK_BOT_USER_ID, SLACK_CHANNELS  # noqa: E402
from oar.sandbox.slack import SlackStandIn  # noqa: E402
from oar.service import Service  # noqa: E402
from oar.settings import load_settings  # noqa: E402

CHANNEL = SLACK_CHANNELS["oar-sandbox"]
ANSWER = "Sandbox answer to"
TIMED_OUT = "did not answer"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def sync_baseline(slack_url: str, llm_url: str, timeout: float) -> SocketModeHandler:
    """Seed 003's 'before': Bolt's sync App, 10 workers, a blocking model call each."""
    client = WebClient(token="xoxb-sandbox-bot", base_url=slack_url + "/api/")
    app = App(client=client, token_verification_enabled=False)
    model = openai.OpenAI(
        base_url=f"{llm_url}/v1", api_key="sandbox-llm-key", timeout=timeout, max_retries=0
    )

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], say: Any) -> None:
        try:
            answer = model.chat.completions.create(
                model="sandbox-model", messages=[{"role": "user", "content": event["text"]}]
            )
            text = answer.choices[0].message.content or ""
        except openai.APITimeoutError:
            text = f"The assistant {TIMED_OUT} within {timeout:g} seconds."
        say(text=text, thread_ts=event["ts"])

    @app.event("message")
    def on_message() -> None:
        return None

    handler = SocketModeHandler(app, app_token="xapp-sandbox-app")  # concurrency=10
    threading.Thread(target=handler.connect, daemon=True).start()
    return handler


async def run_workload(
    slack: SlackStandIn, messages: int, hanging: int, deadline: float
) -> dict[str, Any]:
    every = max(1, messages // max(1, hanging)) if hanging else 0
    texts = []
    for i in range(messages):
        hang = hanging and i % every == 0 and sum("HANG" in t for t in texts) < hanging
        texts.append(f"<@{SLACK_BOT_USER_ID}> question {i}: " + ("HANG" if hang else "status?"))
    started = time.monotonic()
    roots = [await slack.post_message(CHANNEL, "U0ALICE002", text) for text in texts]
    sent_at = {ts: time.monotonic() for ts in roots}
    replied: dict[str, float] = {}
    outcome: dict[str, str] = {}
    while len(replied) < len(roots) and time.monotonic() - started < deadline:
        for ts in roots:
            if ts in replied:
                continue
            for message in slack.thread(CHANNEL, ts)[1:]:
                text = str(message.get("text", ""))
                if ANSWER in text or TIMED_OUT in text:
                    replied[ts] = time.monotonic()
                    outcome[ts] = "answered" if ANSWER in text else "timed out"
                    break
        await asyncio.sleep(0.02)
    elapsed = (max(replied.values()) if replied else time.monotonic()) - started
    answered_at = [replied[ts] for ts in roots if outcome.get(ts) == "answered"]
    answer_seconds = (max(answered_at) if answered_at else time.monotonic()) - started
    latencies = [replied[ts] - sent_at[ts] for ts in roots if outcome.get(ts) == "answered"]
    return {
        "replies": len(replied),
        "answered": sum(1 for o in outcome.values() if o == "answered"),
        "timed_out": sum(1 for o in outcome.values() if o == "timed out"),
        "missing": len(roots) - len(replied),
        "seconds": elapsed,
        "answer_seconds": answer_seconds,
        "per_second": len(answered_at) / answer_seconds if answer_seconds else float("nan"),
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
    }


async def bench_oar(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    slack = SlackStandIn()
    llm = LLMStandIn(behaviours=[{"match": "HANG", "hang": True}, {"delay": args.delay}])
    async with slack.serving() as slack_url, llm.serving() as llm_url:
        environ = {
            "OAR_DATABASE_URL": f"sqlite:///{workdir / 'oar.db'}",
            "OAR_DATA_DIR": str(workdir),
            "OAR_LOG_LEVEL": "ERROR",
            "OAR_LLM_TIMEOUT": str(args.timeout),
            **slack.environment(slack_url),
            **llm.environment(llm_url),
        }
        async with Service(load_settings(environ=environ), roles={"bot"}, programs=programs()):
            await slack.wait_for(lambda: slack.connections >= 1, 10, "socket")
            return await run_workload(slack, args.messages, args.hanging, args.timeout * 10 + 60)


async def bench_baseline(args: argparse.Namespace) -> dict[str, Any]:
    slack = SlackStandIn()
    llm = LLMStandIn(behaviours=[{"match": "HANG", "hang": True}, {"delay": args.delay}])
    async with slack.serving() as slack_url, llm.serving() as llm_url:
        handler = sync_baseline(slack_url, llm_url, args.timeout)
        try:
            await slack.wait_for(lambda: slack.connections >= 1, 10, "socket")
            return await run_workload(slack, args.messages, args.hanging, args.timeout * 10 + 60)
        finally:
            await asyncio.to_thread(handler.close)


def show(name: str, result: dict[str, Any]) -> None:
    print(
        f"{name:<10} replies {result['replies']:>3} (answered {result['answered']},"
        f" timed out {result['timed_out']}, missing {result['missing']})"
        f"; all replied after {result['seconds']:.2f} s\n"
        f"{'':<10} answers: {result['per_second']:.2f}/s (last after"
        f" {result['answer_seconds']:.2f} s); latency p50 {result['p50']:.2f} s"
        f" p95 {result['p95']:.2f} s p99 {result['p99']:.2f} s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--hanging", type=int, default=15)
    parser.add_argument("--timeout", type=float, default=10.0, help="model deadline, seconds")
    parser.add_argument("--delay", type=float, default=0.2, help="model answer delay, seconds")
    args = parser.parse_args()
    configure_logging(level="ERROR")
    print(
        f"{args.messages} messages in {args.messages} threads, {args.hanging} to a hung model;"
        f" model deadline {args.timeout:g} s, answer delay {args.delay:g} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        oar = await bench_oar(args, Path(tmp))
    show("OAR", oar)
    baseline = await bench_baseline(args)
    show("sync Bolt", baseline)
    ratio = oar["per_second"] / baseline["per_second"]
    answered_ratio = baseline["p95"] / oar["p95"]
    print(f"throughput ratio {ratio:.1f}x; answer p95 ratio {answered_ratio:.1f}x")
    ok = oar["missing"] == 0 and ratio >= 10
    print("goal met" if ok else "GOAL NOT MET")


if __name__ == "__main__":
    asyncio.run(main())
