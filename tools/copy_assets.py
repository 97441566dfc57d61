"""Copy the browser libraries' dist bundles from node_modules into the git-ignored static folder,
then build our own bundle (the modeler: web/build.mjs, esbuild) into the same folder.

Run by `make assets` (part of `make run` and `make test`). Nothing third-party or built is committed.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "node_modules"
TARGET = ROOT / "src" / "orchestrator" / "web" / "static" / "vendor"

FILES = {
    "bpmn-js/dist/bpmn-navigated-viewer.production.min.js": "bpmn-navigated-viewer.js",
    "bpmn-js/dist/assets/diagram-js.css": "diagram-js.css",
    "bpmn-js/dist/assets/bpmn-js.css": "bpmn-js.css",
    # the form editor (process owners) and the decision table editor
    "@bpmn-io/form-js/dist/form-editor.umd.js": "form-editor.js",
    "@bpmn-io/form-js/dist/assets/form-js.css": "form-js.css",
    "@bpmn-io/form-js/dist/assets/form-js-editor.css": "form-js-editor.css",
    "@bpmn-io/form-js/dist/assets/properties-panel.css": "form-js-properties-panel.css",
    "@bpmn-io/form-js/dist/assets/flatpickr/light.css": "flatpickr-light.css",
    "dmn-js/dist/dmn-modeler.production.min.js": "dmn-modeler.js",
    "dmn-js/dist/assets/diagram-js.css": "dmn-diagram-js.css",
    "dmn-js/dist/assets/dmn-js-shared.css": "dmn-js-shared.css",
    "dmn-js/dist/assets/dmn-js-drd.css": "dmn-js-drd.css",
    "dmn-js/dist/assets/dmn-js-decision-table.css": "dmn-js-decision-table.css",
    "dmn-js/dist/assets/dmn-js-decision-table-controls.css": "dmn-js-decision-table-controls.css",
    "dmn-js/dist/assets/dmn-js-literal-expression.css": "dmn-js-literal-expression.css",
    "dmn-js/dist/assets/dmn-js-boxed-expression.css": "dmn-js-boxed-expression.css",
    "dmn-js/dist/assets/dmn-js-boxed-expression-controls.css": "dmn-js-boxed-expression-controls.css",
    # the accessibility checker the browser tests run on every page type (never served to a page)
    "axe-core/axe.min.js": "axe.min.js",
}
FOLDERS = {"bpmn-js/dist/assets/bpmn-font": "bpmn-font", "dmn-js/dist/assets/dmn-font": "dmn-font"}


def main() -> int:
    if not MODULES.exists():
        print("node_modules mangler: kjør `npm ci` først", file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    for source, name in FILES.items():
        shutil.copy2(MODULES / source, TARGET / name)
    for source, name in FOLDERS.items():
        shutil.copytree(MODULES / source, TARGET / name, dirs_exist_ok=True)
    (TARGET / "README").write_text("Copied from node_modules and built by tools/copy_assets.py; not committed.\n")
    return subprocess.call(["node", str(ROOT / "web" / "build.mjs")], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
