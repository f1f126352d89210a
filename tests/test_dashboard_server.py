"""`workbench dashboard`: its guards, Voilà's settings, the offline template and the notebook."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from workbench import dashboard_server
from workbench.errors import InvalidInput

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "dashboard.ipynb"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "dashboard.example.ch"])
def test_dashboard_refuses_non_loopback_host(cli, host):
    result = cli("dashboard", "--host", host, "--port", "18999")

    assert result.code == 2
    assert "127.0.0.1" in result.err
    assert host in result.err


@pytest.mark.parametrize("port", ["0", "70000"])
def test_dashboard_refuses_invalid_port(cli, port):
    result = cli("dashboard", "--port", port)

    assert result.code == 2
    assert port in result.err


def test_dashboard_refuses_non_numeric_port(cli):
    result = cli("dashboard", "--port", "http")

    assert result.code == 2
    assert "--port" in result.err


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_check_host_accepts_loopback(host):
    assert dashboard_server.check_host(host) == host


def test_check_host_names_the_value():
    with pytest.raises(InvalidInput) as raised:
        dashboard_server.check_host("10.0.0.5")

    problem = raised.value.problems[0]
    assert (problem.file, problem.column, problem.value) == ("--host", "host", "10.0.0.5")


def test_voila_arguments_hide_tracebacks_and_cull_kernels():
    arguments = dashboard_server.voila_arguments(Path("/srv/dashboard.ipynb"), "127.0.0.1", 8901)

    assert arguments[0] == "/srv/dashboard.ipynb"
    assert "--VoilaConfiguration.show_tracebacks=False" in arguments
    assert "--Voila.ip=127.0.0.1" in arguments
    assert "--Voila.port=8901" in arguments
    assert "--Voila.port_retries=0" in arguments
    assert "--no-browser" in arguments
    assert "--VoilaConfiguration.preheat_kernel=True" in arguments
    assert f"--template={dashboard_server.TEMPLATE_NAME}" in arguments
    assert (f"--MappingKernelManager.cull_idle_timeout={dashboard_server.CULL_IDLE_SECONDS}"
            in arguments)
    assert (f"--MappingKernelManager.cull_interval={dashboard_server.CULL_INTERVAL_SECONDS}"
            in arguments)
    assert not any("postgresql" in argument or "sqlite" in argument for argument in arguments)


def test_server_environment_carries_database_and_templates():
    env = dashboard_server.server_environment(
        "postgresql+psycopg://wb:secret@127.0.0.1:5432/wb", "de",
        {"PATH": "/usr/bin", "JUPYTER_PATH": "/opt/jupyter"})

    assert env["WORKBENCH_DB_URL"] == "postgresql+psycopg://wb:secret@127.0.0.1:5432/wb"
    assert env["WORKBENCH_LANG"] == "de"
    assert env["JUPYTER_PATH"].split(":") == [str(dashboard_server.TEMPLATES_ROOT),
                                              "/opt/jupyter"]
    assert env["PATH"] == "/usr/bin"


def test_template_exists_and_links_nothing_outside():
    template = dashboard_server.TEMPLATES_ROOT / "voila" / "templates" / \
        dashboard_server.TEMPLATE_NAME
    files = sorted(path for path in template.rglob("*") if path.is_file())

    assert {path.name for path in files} >= {"conf.json", "index.html.j2", "page.html"}
    for path in files:
        text = path.read_text()
        assert not re.search(r"https?://|//cdn|cdnjs|jsdelivr|unpkg", text), path
    assert json.loads((template / "conf.json").read_text())["base_template"] == "lab"


def test_find_notebook_is_the_repository_notebook():
    assert dashboard_server.find_notebook() == NOTEBOOK


def test_notebook_is_thin_and_has_no_outputs():
    notebook = json.loads(NOTEBOOK.read_text())
    cells = notebook["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    source = "\n".join("".join(cell["source"]) for cell in code)

    assert cells[0]["cell_type"] == "markdown"
    assert "".join(cells[0]["source"]).startswith("# ")
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
    assert len(source.splitlines()) <= 3
    assert "show_dashboard()" in source
    assert not re.search(r"sqlite|postgres|WORKBENCH_DB_URL", source)


def test_notebook_runs_outside_voila(engine, db_url, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    from dashboard_ledger import build_ledger

    build_ledger(engine)
    monkeypatch.setenv("WORKBENCH_DB_URL", db_url)
    monkeypatch.setenv("JUPYTERHUB_USER", "bob")
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
                 "MPLCONFIGDIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    notebook = nbformat.read(NOTEBOOK, as_version=4)

    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    outputs = notebook.cells[-1].outputs
    assert [output.output_type for output in outputs] == ["execute_result"]
    assert "application/vnd.jupyter.widget-view+json" in outputs[0].data
    assert not any(output.output_type == "error" for cell in notebook.cells
                   if cell.cell_type == "code" for output in cell.outputs)
