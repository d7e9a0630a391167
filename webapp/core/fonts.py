"""Start-up check that a CJK font is installed: without one, PDFs silently show empty boxes."""

import shutil
import subprocess


class MissingCJKFont(RuntimeError):
    pass


def cjk_fonts() -> list[str]:
    """Families fontconfig knows for Chinese (``fc-list :lang=zh``)."""
    if not shutil.which("fc-list"):
        return []
    out = subprocess.run(  # noqa: S603 - fixed arguments
        [shutil.which("fc-list"), ":lang=zh", "family"],
        capture_output=True, text=True, timeout=20, check=False,
    ).stdout
    return sorted({line.split(",")[0].strip() for line in out.splitlines() if line.strip()})


def require_cjk_font() -> list[str]:
    """Raise ``MissingCJKFont`` with the fix when no Chinese font is installed."""
    fonts = cjk_fonts()
    if not any("CJK SC" in f or "SC" in f.split() for f in fonts):
        raise MissingCJKFont(
            "没有找到中文字体，PDF 文书会显示空白方块。请安装：apt-get install -y fonts-noto-cjk "
            "(no CJK font found: install fonts-noto-cjk)"
        )
    return fonts
