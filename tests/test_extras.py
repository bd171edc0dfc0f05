"""Install hints worded for how sparsearch was installed (PEP 610's direct_url.json)."""

from pathlib import Path

from sparsearch import extras
from sparsearch.extras import hint_for, install_hint, installed_from

ROOT = Path(__file__).parents[1]


def test_each_way_of_installing_gets_its_own_command():
    assert hint_for("ray", {"url": "file:///home/me/sparsearch", "dir_info": {"editable": True}}) == \
        "pip install -e '.[ray]' (in /home/me/sparsearch)"
    assert hint_for("onnx", {"url": "file:///tmp/my%20clone", "dir_info": {}}) == "pip install '/tmp/my clone[onnx]'"
    assert hint_for("ray", {"url": "https://example.org/sparsearch.git", "vcs_info": {"vcs": "git", "commit_id": "ab"}}) \
        == "pip install 'sparsearch[ray] @ git+https://example.org/sparsearch.git'"
    assert hint_for("torchvision", None) == "pip install 'sparsearch[torchvision]'"  # from a package index
    assert hint_for("ray", {"url": "https://example.org/sparsearch-0.2.0.whl", "archive_info": {}}) == \
        "pip install 'sparsearch[ray]'"


class Installed:
    def __init__(self, text):
        self.text = text

    def read_text(self, name):
        assert name == "direct_url.json"
        return self.text


def test_the_installation_s_record_is_read(monkeypatch):
    monkeypatch.setattr(extras, "source_tree", lambda: None)  # installed from an index: no clone around it
    monkeypatch.setattr(extras, "distributions", lambda name: [Installed(None)])
    assert installed_from() is None and install_hint("ray") == "pip install 'sparsearch[ray]'"
    editable = Installed('{"url": "file:///src/sa", "dir_info": {"editable": true}}')
    monkeypatch.setattr(extras, "distributions", lambda name: [editable])
    assert install_hint("ray") == "pip install -e '.[ray]' (in /src/sa)"
    # a source tree's own egg-info (no record) earlier on the path does not hide the installed record
    monkeypatch.setattr(extras, "distributions", lambda name: [Installed(None), editable])
    assert install_hint("ray") == "pip install -e '.[ray]' (in /src/sa)"
    monkeypatch.setattr(extras, "distributions", lambda name: [Installed("{not json")])
    assert install_hint("onnx") == "pip install 'sparsearch[onnx]'"


def test_a_source_tree_run_without_installing_is_an_editable_clone(monkeypatch):
    monkeypatch.setattr(extras, "distributions", lambda name: [])
    assert install_hint("ray") == f"pip install -e '.[ray]' (in {ROOT.resolve()})"
