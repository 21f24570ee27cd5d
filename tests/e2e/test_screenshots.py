"""A test run leaves the tracked files alone: screenshots go under var/ (git ignores it), and only
`make screenshots` copies them into docs/screenshots/, on purpose."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import SCREENSHOTS, save_screenshots, screenshot_path

ROOT = Path(__file__).resolve().parents[2]


class FakePage:
    """Records where the screenshots would be written (no browser needed)."""

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def set_viewport_size(self, size: dict[str, int]) -> None:
        pass

    def wait_for_timeout(self, ms: float) -> None:
        pass

    def screenshot(self, *, path: str, full_page: bool) -> None:
        self.paths.append(Path(path))


def ignored_by_git(path: Path) -> bool:
    """Whether a top-level folder of the repository's .gitignore covers `path`."""
    patterns = {line.strip().strip("/") for line in (ROOT / ".gitignore").read_text().splitlines()}
    return path.relative_to(ROOT).parts[0] in patterns


def test_browser_tests_save_screenshots_where_git_does_not_look():
    page = FakePage()
    save_screenshots(page, "dashboard")  # what the shoot fixture does
    paths = [*page.paths, screenshot_path("pickup-en-390x844")]  # what the pickup test does
    assert [p.name for p in paths] == [
        "dashboard-390x844.png",
        "dashboard-1280x800.png",
        "pickup-en-390x844.png",
    ]
    for path in paths:
        assert path.parent == SCREENSHOTS == ROOT / "var" / "screenshots"
        assert ignored_by_git(path), path
        assert not path.is_relative_to(ROOT / "docs")


def test_make_screenshots_refreshes_the_readme_pictures():
    makefile = (ROOT / "Makefile").read_text()
    target = makefile.split("\nscreenshots:", 1)[1].split("\n\n", 1)[0]
    assert "pytest" in target
    assert "cp var/screenshots/*.png docs/screenshots/" in target
