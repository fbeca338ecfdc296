"""Copy as code: the notebook-helper call that makes the same request.

The code uses :func:`luma_nb.generate` / :func:`luma_nb.extend`, so running it logs the
iteration in the kernel's default session exactly as the panel did. Every field that was sent
is written out explicitly (``loop`` and ``enhancement`` included), so the code does not depend
on a default that may change.
"""

from __future__ import annotations

from luma_nb.models import VideoRequest

__all__ = ["request_code"]


def _literal(value: object) -> str:
    # repr() of str, bool, int and float is a valid Python literal; a float that is a whole
    # number is written as an int, which the API field takes just the same.
    if isinstance(value, float) and value.is_integer():
        return repr(int(value))
    text = repr(value)
    # Double quotes, as most code is written, when that needs no escaping: repr chose single
    # quotes here, so the string holds neither quote character.
    if isinstance(value, str) and text[0] == "'" and '"' not in value:
        text = f'"{text[1:-1]}"'
    return text


def request_code(request: VideoRequest, *, sync: bool = False) -> str:
    """Python source that submits ``request`` through the notebook helpers and waits.

    Parameters
    ----------
    request : VideoRequest
        The request to reproduce.
    sync : bool
        The panel sent it in sync mode; the helpers always use async mode (the video is the
        same), which a comment says.

    Returns
    -------
    str
        Code that runs as is after ``import luma_nb`` (which it includes).
    """
    lines: list[str] = []
    keywords: list[tuple[str, object]] = []
    if request.action == "generate":
        call = "luma_nb.generate"
        positional = [_literal(request.prompt)]
    else:
        call = "luma_nb.extend"
        positional = [_literal(request.video_id)] if request.video_id is not None else []
        if request.video_id is None:
            keywords.append(("video_url", request.video_url))
        if request.prompt is not None:
            keywords.append(("prompt", request.prompt))
    if request.aspect_ratio is not None:
        keywords.append(("aspect_ratio", request.aspect_ratio))
    keywords += [("loop", request.loop), ("enhancement", request.enhancement)]
    for name in ("start_image_url", "end_image_url", "callback_url", "timeout"):
        value = getattr(request, name)
        if value is not None:
            keywords.append((name, value))
    lines.append("import luma_nb")
    lines.append("")
    if sync:
        lines.append("# Sent in sync mode from the panel; the helpers poll instead (same video).")
    arguments = positional + [f"{name}={_literal(value)}" for name, value in keywords]
    lines.append(f"video = {call}(")
    lines.extend(f"    {argument}," for argument in arguments)
    lines.append(")")
    return "\n".join(lines) + "\n"
