"""The Slack stand-in's page shows mrkdwn as Slack would (the rules of Slack's "Formatting
text for app surfaces"), and a message can never inject markup."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from oar.sandbox.slack.mrkdwn import Names, to_html, to_text, unescape

NAMES = Names(
    users={"U0LEAD0001": "mlead", "U0OARBOT01": "oar-bot"},
    groups={"S0419QELDS": "4.19-qe-leads"},
    channels={"C0QERELEAS": "team-qe-release"},
)
NEW_TAB = 'rel="noopener noreferrer" target="_blank"'
NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
# 2026-11-30 14:05:09 UTC, a Monday.
STAMP = int(datetime(2026, 11, 30, 14, 5, 9, tzinfo=UTC).timestamp())


def render(text: str) -> str:
    return to_html(text, NAMES, now=NOW)


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("*bold*", "<b>bold</b>"),
        ("_italic_", "<i>italic</i>"),
        ("~struck~", "<s>struck</s>"),
        ("a *b* c _d_ e ~f~.", "a <b>b</b> c <i>d</i> e <s>f</s>."),
        ("*_both_*", "<b><i>both</i></b>"),
        ("(*x*)", "(<b>x</b>)"),
        # Markers must hug the words and stand at word boundaries.
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("foo*bar*baz", "foo*bar*baz"),
        ("snake_case_name", "snake_case_name"),
        ("*not\nbold*", "*not<br>bold*"),
        ("**", "**"),
    ],
)
def test_bold_italic_and_strike_follow_slacks_word_rules(text: str, html: str) -> None:
    assert render(text) == html


def test_code_is_literal_and_escaped() -> None:
    assert render("run `oar -r *x* <@U0LEAD0001>`") == (
        "run <code>oar -r *x* &lt;@U0LEAD0001&gt;</code>"
    )
    block = render('see:\n```\n{"a": "<b>", "b": *x*}\n```\ndone')
    assert block == (
        "see:<pre><code>{&quot;a&quot;: &quot;&lt;b&gt;&quot;, &quot;b&quot;: *x*}\n"
        "</code></pre>done"
    )
    assert render("```one line```") == "<pre><code>one line</code></pre>"


def test_links_with_and_without_text() -> None:
    assert render("<https://errata.example/advisory/1|1>") == (
        f'<a href="https://errata.example/advisory/1" {NEW_TAB}>1</a>'
    )
    assert render("<https://x.example/a?b=1&amp;c=2>") == (
        '<a href="https://x.example/a?b=1&amp;c=2" rel="noopener noreferrer" target="_blank">'
        "https://x.example/a?b=1&amp;c=2</a>"
    )
    assert render("<mailto:qe@example.com|mail QE>") == (
        '<a href="mailto:qe@example.com" rel="noopener noreferrer" target="_blank">mail QE</a>'
    )
    assert render("*see <https://x.example|this>*") == (
        '<b>see <a href="https://x.example" rel="noopener noreferrer" target="_blank">this</a></b>'
    )


def test_mentions_are_shown_by_name() -> None:
    assert render("<@U0LEAD0001> please") == (
        '<span class="mention" title="U0LEAD0001">@mlead</span> please'
    )
    assert render("<!subteam^S0419QELDS>") == (
        '<span class="mention" title="S0419QELDS">@4.19-qe-leads</span>'
    )
    assert render("<!subteam^S0NOBODY01|@someteam>") == (
        '<span class="mention" title="S0NOBODY01">@someteam</span>'
    )
    assert render("<!here> <!channel>") == (
        '<span class="mention" title="here">@here</span> '
        '<span class="mention" title="channel">@channel</span>'
    )
    assert render("in <#C0QERELEAS>") == (
        'in <span class="mention" title="C0QERELEAS">#team-qe-release</span>'
    )
    assert render("<@U0UNKNOWN9>") == '<span class="mention" title="U0UNKNOWN9">@U0UNKNOWN9</span>'


@pytest.mark.parametrize(
    ("tokens", "shown"),
    [
        ("{date_num}", "2026-11-30"),
        ("{date_slash}", "30/11/2026"),
        ("{date}", "November 30th, 2026"),
        ("{date_short}", "Nov 30, 2026"),
        ("{date_long}", "Monday, November 30th, 2026"),
        ("{date_long_full}", "November 30, 2026"),
        ("{date_pretty}", "today"),
        ("{date_short_pretty} {time}", "today 2:05 PM"),
        ("{date_long_pretty}", "today"),
        ("{day_divider_pretty}", "today"),
        ("{time_secs}", "2:05:09 PM"),
        ("{ago}", "in 13 hours"),
        ("expires {date_num} at {time}", "expires 2026-11-30 at 2:05 PM"),
    ],
)
def test_dates_use_slacks_tokens_in_utc(tokens: str, shown: str) -> None:
    out = render(f"<!date^{STAMP}^{tokens}|fallback>")
    assert f">{shown}</time>" in out
    assert 'datetime="2026-11-30T14:05:09+00:00"' in out


def test_dates_relative_days_ordinals_links_and_fallback() -> None:
    yesterday = STAMP - 86_400
    assert ">yesterday</time>" in render(f"<!date^{yesterday}^{{date_pretty}}|x>")
    assert ">November 28th, 2026</time>" in render(
        f"<!date^{STAMP - 2 * 86_400}^{{date_pretty}}|x>"
    )
    assert ">3 days ago</time>" in to_html(
        f"<!date^{STAMP}^{{ago}}|x>", NAMES, now=datetime(2026, 12, 3, 15, tzinfo=UTC)
    )
    first = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    assert ">January 1st, 2026</time>" in render(f"<!date^{first}^{{date}}|x>")
    linked = render(f"<!date^{STAMP}^{{date_num}}^https://x.example/r|x>")
    assert linked.startswith('<a href="https://x.example/r"')
    assert render("<!date^soon^{date}|in a while &lt;ish&gt;>") == "in a while &lt;ish&gt;"


def test_block_quotes_and_line_breaks() -> None:
    assert render("> quoted\n&gt; still *quoted*\nafter") == (
        "<blockquote>quoted<br>still <b>quoted</b></blockquote>after"
    )
    assert render("one\ntwo") == "one<br>two"
    assert render("asked:\n> why?\nbecause") == "asked:<blockquote>why?</blockquote>because"
    assert render("run ```make run``` now") == "run <pre><code>make run</code></pre> now"
    assert render("intro\n&gt;&gt;&gt; all\nof this") == (
        "intro<blockquote>all<br>of this</blockquote>"
    )


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "<javascript:alert(1)|click me>",
        '<https://x.example/"onmouseover="alert(1)|x>',
        "<!date^1^{date}^javascript:alert(1)|x>",
        '<@U0LEAD0001|"><script>alert(1)</script>>',
        "`<img src=x onerror=alert(1)>`",
        "```<iframe src=javascript:alert(1)>```",
        "*<img src=x onerror=alert(1)>*",
        "\x00<b>0\x00",
    ],
)
def test_no_markup_can_be_injected(attack: str) -> None:
    out = render(attack)
    for tag in ("<script", "<img", "<iframe", 'href="javascript', 'onmouseover="', "\x00"):
        assert tag not in out
    assert "<b>0" not in out


def test_script_in_a_message_is_shown_as_text() -> None:
    assert render("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert render("&lt;script&gt;") == "&lt;script&gt;"
    assert render("a &amp; b, &amp;lt;") == "a &amp; b, &amp;lt;"


def test_unescape_decodes_slacks_three_entities_only() -> None:
    assert unescape("&lt;&gt;&amp;lt;&quot;") == "<>&lt;&quot;"


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("*bold* _it_ ~gone~", "bold it gone"),
        ("<@U0LEAD0001> and <!subteam^S0419QELDS>", "@mlead and @4.19-qe-leads"),
        ("<#C0QERELEAS> <!here>", "#team-qe-release @here"),
        ("see <https://x.example/a?b=1&amp;c=2|the *report*>", "see the *report*"),
        ("<https://x.example/a>", "https://x.example/a"),
        ("`oar -r *x*` &amp; &lt;b&gt;", "oar -r *x* & <b>"),
        ("one\ntwo\n> quoted\n```\nblock\n```", "one two quoted block"),
        (f"<!date^{STAMP}^{{date_num}} {{time}}|fallback>", "2026-11-30 2:05 PM"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
    ],
)
def test_plain_text_reads_as_the_rendered_message(text: str, plain: str) -> None:
    """Where no markup fits (the page's thread picker), a message reads as it is shown:
    no markers, names for mentions, labels for links; the caller escapes it."""
    assert to_text(text, NAMES, now=NOW) == plain
