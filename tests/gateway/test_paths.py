from __future__ import annotations

import pytest

from gateway.paths import PathError, canonical_path, split_target


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("/api/projects/proj1/customers", "/api/projects/proj1/customers"),
        ("/api/projects/proj1/../proj2/customers", "/api/projects/proj2/customers"),
        ("/api/projects/proj1/%2e%2e/proj2/customers", "/api/projects/proj2/customers"),
        ("/api/projects/proj1/%2E%2E/proj2", "/api/projects/proj2"),
        ("/api//projects///proj1", "/api/projects/proj1"),
        ("/api/./projects/./proj1/", "/api/projects/proj1/"),
        ("/%61pi/x", "/api/x"),
        ("/api/%E5%AE%A2%E6%88%B7", "/api/%E5%AE%A2%E6%88%B7"),
        ("/a/b/..", "/a/"),
        ("/a/%7euser", "/a/~user"),
    ],
)
def test_canonical_forms(raw, expected):
    assert canonical_path(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "/../etc/passwd",
        "/a/../../b",
        "/a%2fb",
        "/a%2Fb",
        "/a%5cb",
        "/a\\b",
        "/a%00b",
        "/a/%252e%252e/b",
        "/a%252fb",
        "/a b",
        "relative/path",
        "/a\x01b",
    ],
)
def test_unsafe_paths_are_refused(raw):
    with pytest.raises(PathError):
        canonical_path(raw)


def test_split_target():
    assert split_target("/a/b?x=1&y=2#frag") == ("/a/b", "x=1&y=2#frag")
    assert split_target("/a#frag") == ("/a", "")
