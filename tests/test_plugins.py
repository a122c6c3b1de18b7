"""Registry and plugin loading: isolation, duplicates, allow/block lists, third-party path."""

import importlib.metadata

import pytest

from gentk import hookimpl
from gentk.errors import PluginError, UserError
from gentk.plugins import (
    PluginLoadWarning,
    build_registry,
    get_plugin_manager,
    get_registry,
    module_plugin,
)

EP = importlib.metadata.EntryPoint


@pytest.fixture(autouse=True)
def _explicit_entry_points_only(monkeypatch):
    """Tests here pass their entry points explicitly; the suite's allowlist must not filter them."""
    monkeypatch.delenv("GENTK_PLUGINS", raising=False)


def test_a_broken_plugin_warns_and_the_others_load():
    eps = [
        EP("broken", "gentk_no_such_module_xyz", "gentk.plugins"),
        EP("vae", "gentk_vae", "gentk.plugins"),
        EP("autoencoders", "gentk_autoencoders", "gentk.plugins"),
    ]
    with pytest.warns(PluginLoadWarning, match="'broken'.*ModuleNotFoundError"):
        pm = get_plugin_manager(entry_points=eps)
    registry = build_registry(pm)
    assert ("model", "vae") in registry and ("encoder", "mlp") in registry


def test_a_failing_hook_warns_and_the_others_register():
    def boom(register):
        raise RuntimeError("kaput")

    pm = get_plugin_manager(
        entry_points=[EP("vae", "gentk_vae", "gentk.plugins")],
        extra_plugins=[("bad", module_plugin("bad", register_models=boom))],
    )
    with pytest.warns(PluginLoadWarning, match="'bad' failed in register_models: RuntimeError"):
        registry = build_registry(pm)
    assert ("model", "vae") in registry


def test_duplicate_names_are_an_error_naming_both_plugins():
    def register_one(register):
        register("divergence", "kl", object, help="dup")

    pm = get_plugin_manager(
        entry_points=[EP("vae", "gentk_vae", "gentk.plugins")],
        extra_plugins=[("copycat", module_plugin("copycat", register_components=register_one))],
    )
    with pytest.raises(PluginError, match="registered twice: by plugin '.*' and by plugin '.*'"):
        build_registry(pm)


def test_misspelled_hook_is_one_warning_naming_the_closest_hook_and_the_rest_loads():
    class Bad:
        @hookimpl
        def register_modles(self, register):  # typo on purpose
            pass

    with pytest.warns(PluginLoadWarning) as caught:
        pm = get_plugin_manager(
            entry_points=[EP("vae", "gentk_vae", "gentk.plugins")], extra_plugins=[("bad", Bad())]
        )
    assert len(caught) == 1
    assert "'bad'" in str(caught[0].message)
    assert "unknown hook 'register_modles'; did you mean 'register_models'?" in str(
        caught[0].message
    )
    assert {name for name, _ in pm.list_name_plugin()} == {"vae"}
    assert ("model", "vae") in build_registry(pm)


def test_cli_warns_once_for_an_installed_plugin_with_a_misspelled_hook(tmp_path):
    """An installed distribution (a dist-info folder on the path) whose hook is misspelled:
    every command still works, with one ``Warning:`` line, not a traceback."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import TEST_PLUGINS

    site = tmp_path / "site"
    (site / "typo_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "typo_plugin.py").write_text(
        "from gentk import hookimpl\n\n@hookimpl\ndef register_modles(register):\n    pass\n"
    )
    info = site / "typo_plugin-0.1.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: typo-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[gentk.plugins]\ntypo = typo_plugin\n")
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "GENTK_PLUGINS": TEST_PLUGINS + ",typo",
    }
    exe = Path(sys.executable).with_name("gentk")
    proc = subprocess.run(
        [str(exe), "plugins"], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    warnings = [line for line in proc.stderr.splitlines() if "typo" in line]
    assert warnings == [
        "Warning: gentk plugin 'typo' (typo-plugin 0.1) failed to load and was skipped: "
        "UnknownHookError: unknown hook 'register_modles'; did you mean 'register_models'?"
    ]
    assert "Traceback" not in proc.stderr and "recommender-vae" in proc.stdout


def test_allow_and_block_lists(monkeypatch):
    eps = [
        EP("vae", "gentk_vae", "gentk.plugins"),
        EP("autoencoders", "gentk_autoencoders", "gentk.plugins"),
    ]
    monkeypatch.setenv("GENTK_PLUGINS", "vae")
    assert {n for n, _ in get_plugin_manager(entry_points=eps).list_name_plugin()} == {"vae"}
    monkeypatch.delenv("GENTK_PLUGINS")
    monkeypatch.setenv("GENTK_DISABLE_PLUGINS", "vae")
    names = {n for n, _ in get_plugin_manager(entry_points=eps).list_name_plugin()}
    assert names == {"autoencoders"}


def test_unknown_entry_suggests_close_names():
    with pytest.raises(UserError, match="did you mean vae"):
        get_registry().get("model", "vea")


def test_example_third_party_plugin_is_found_through_its_entry_point():
    names = {ep.name for ep in importlib.metadata.entry_points(group="gentk.plugins")}
    assert "example" in names, "install it: pip install -e examples/third_party_plugin"
    entry = get_registry().get("model", "linear-autoencoder")
    assert entry.plugin == "example" and entry.version == "0.1.0"
    assert get_registry().get("decoder", "tanh-mlp").plugin == "example"


def test_builtins_register_through_entry_points_like_third_parties():
    by_plugin = {e.plugin for e in get_registry().entries()}
    assert {"core", "autoencoders", "vae", "vqvae", "recommender", "example"} <= by_plugin
    for name in ("digits", "gaussian-ring", "gaussian-grid"):  # the core's, not a family's
        assert get_registry().get("dataset", name).plugin == "core"
    for e in get_registry().entries():
        assert e.version != "?", e


def test_register_datasets_adds_named_datasets(tmp_path):
    """The register_datasets hook: a named dataset that --data NAME resolves."""
    from pathlib import Path

    from gentk.training.plan import resolve_data

    entry = get_registry().get("dataset", "movielens-latest-small")
    assert entry.plugin == "recommender"
    path = resolve_data("movielens-latest-small")
    assert Path(path).name == "ratings.csv" and Path(path).is_file()
    assert resolve_data(str(tmp_path)) == str(tmp_path)
    with pytest.raises(UserError, match="no dataset of that name"):
        resolve_data("nope-data")


def test_register_commands_adds_plugin_commands():
    """The register_commands hook: the recommender adds `recommend` and `export`."""
    from gentk.cli import _add_plugin_commands, cli

    _add_plugin_commands()
    assert "recommend" in cli.commands and "export" in cli.commands


def test_built_in_recipes_use_third_party_components_with_fewer_options():
    from gentk.config import resolve_config
    from gentk.plugins import get_registry

    vae = get_registry().get("model", "vae").factory
    config = resolve_config(vae.config, None, ["decoder=tanh-mlp", "hidden=8"])
    data = vae.load_data(config, None)
    model = vae.build(config, data)
    assert type(model.decoder).__module__.startswith("gentk_example_plugin")
    changed = resolve_config(vae.config, None, ["decoder=tanh-mlp", "sigma=0.5"])
    with pytest.raises(UserError, match="sigma=0.5 was set, but decoder 'tanh-mlp' has no option"):
        vae.build(changed, data)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["filters=8,16"], "encoder 'mlp' has no option 'filters'"),
        (["downsample=max-pool"], "encoder 'mlp' has no option 'downsample'"),
        (["upsample=avg-unpool"], "decoder 'mlp' has no option 'upsample'"),
        (["encoder=conv", "decoder=conv", "hidden=8"], "encoder 'conv' has no option 'hidden'"),
    ],
)
def test_an_option_the_chosen_encoder_or_decoder_would_ignore_is_refused(options, named):
    """#10 item 15: `--set filters=...` with the MLP encoder was silently ignored."""
    from gentk.config import resolve_config
    from gentk.plugins import get_registry

    vae = get_registry().get("model", "vae").factory
    config = resolve_config(vae.config, None, options)
    with pytest.raises(UserError, match=named + ".*would ignore it"):
        vae.build(config, vae.load_data(config, None))


def _plugin_imports():
    """``(path, module, names)`` of every absolute import in the built-in plugins and the
    example plugin, and the set of their package names."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    packages = [p for p in (root / "plugins").glob("gentk_*") if p.is_dir()]
    packages += [p for p in (root / "examples").glob("*/gentk_*") if p.is_dir()]
    rows = []
    for package in packages:
        for path in package.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    rows.append((package, path.relative_to(root), node.module,
                                 [a.name for a in node.names]))  # fmt: skip
                elif isinstance(node, ast.Import):
                    rows += [(package, path.relative_to(root), a.name, []) for a in node.names]
    return rows, {p.name for p in packages}


def test_no_plugin_imports_another_plugin():
    """Plugins share code through the core only (#24 item 3): helpers two plugins need, such
    as the pixel likelihoods, live in ``gentk``."""
    rows, names = _plugin_imports()
    found = [
        f"{path} imports {module}"
        for package, path, module, _ in rows
        if module.split(".")[0] in names and module.split(".")[0] != package.name
    ]
    assert len(names) >= 7 and not found, found


def test_plugins_import_only_the_declared_api_from_gentk():
    """Built-in and example plugins import from ``gentk.api`` (and ``gentk``'s own
    ``__all__``) only, so the core's modules can move without breaking a plugin; every name
    of the API resolves."""
    import gentk
    import gentk.api

    rows, _ = _plugin_imports()
    found = []
    for _, path, module, imported in rows:
        if module == "gentk.api":
            found += [f"{path}: {n} is not in gentk.api" for n in imported
                      if n not in gentk.api.__all__]  # fmt: skip
        elif module == "gentk":
            found += [f"{path}: gentk.{n} is not public" for n in imported
                      if n not in gentk.__all__]  # fmt: skip
        elif module.startswith("gentk."):
            found.append(f"{path} imports {module} (use gentk.api)")
    assert not found, found
    for name in gentk.api.__all__:
        assert getattr(gentk.api, name) is not None, name
    with pytest.raises(AttributeError, match="has no attribute"):
        gentk.api.no_such_name  # noqa: B018


def test_the_plugin_api_is_typed():
    """Every function of ``gentk.api`` and ``gentk.__all__``, and every public method of their
    classes defined in gentk, annotates every parameter (#24 item 6)."""
    import inspect

    import gentk
    import gentk.api

    objects = [(n, getattr(gentk.api, n)) for n in gentk.api.__all__]
    objects += [(n, getattr(gentk, n)) for n in gentk.__all__ if n != "__version__"]
    missing = []

    def check(qual, fn):
        for p in inspect.signature(fn).parameters.values():
            untyped = p.annotation is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            if untyped and p.name not in ("self", "cls"):
                missing.append(f"{qual}({p.name})")

    for name, obj in objects:
        if inspect.ismodule(obj):
            continue
        if inspect.isclass(obj):
            if not obj.__module__.startswith("gentk"):
                continue
            for attr, fn in vars(obj).items():
                if inspect.isfunction(fn) and (not attr.startswith("_") or attr == "__init__"):
                    check(f"{name}.{attr}", fn)
        elif callable(obj):
            check(name, obj)
    assert not missing, f"{len(missing)} untyped: {', '.join(missing[:20])}"
