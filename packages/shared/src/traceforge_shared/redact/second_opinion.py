"""detect-secrets (Yelp) as a second opinion for ``traceforge redact check`` and the
pre-commit hook: its credential plugins run on every line of a file.

Left out: the entropy plugins (``Base64HighEntropyString``, ``HexHighEntropyString``), which
flag every id and hash in a trace, the keyword plugin, which flags ``"password": "..."``
shapes our own sensitive-key rule already covers (and its markers), the public-IP plugin
(our ``ipv4`` kind, with its version rule, covers it), and the keyword-plus-length plugins
(Cloudant, IBM Cloud IAM and COS HMAC, SoftLayer) that flag ordinary ``api_key`` lines.
"""

from __future__ import annotations

#: detect-secrets plugin class names that are run.
PLUGINS: tuple[str, ...] = (
    "AWSKeyDetector",
    "ArtifactoryDetector",
    "AzureStorageKeyDetector",
    "BasicAuthDetector",
    "DiscordBotTokenDetector",
    "GitHubTokenDetector",
    "GitLabTokenDetector",
    "JwtTokenDetector",
    "MailchimpDetector",
    "NpmDetector",
    "OpenAIDetector",
    "PrivateKeyDetector",
    "PypiTokenDetector",
    "SendGridDetector",
    "SlackDetector",
    "SquareOAuthDetector",
    "StripeDetector",
    "TelegramBotTokenDetector",
    "TwilioKeyDetector",
)


def detect_secrets_findings(text: str) -> list[tuple[int, str]]:
    """``(line number from 1, secret type)`` of each detect-secrets finding in ``text``
    (its ``type``, e.g. ``Stripe Access Key``; never the value), in line order, one per type
    and line."""
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import transient_settings

    found: list[tuple[int, str]] = []
    with transient_settings({"plugins_used": [{"name": name} for name in PLUGINS]}):
        for number, line in enumerate(text.splitlines(), 1):
            types = sorted({secret.type for secret in scan_line(line)})
            found.extend((number, kind) for kind in types)
    return found
