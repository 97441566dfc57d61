"""Copy the browser libraries' dist bundles from node_modules into the git-ignored static folder.

Run by `make assets` (part of `make run` and `make test`). Nothing third-party is committed.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "node_modules"
TARGET = ROOT / "src" / "orchestrator" / "web" / "static" / "vendor"

FILES = {
    "bpmn-js/dist/bpmn-navigated-viewer.production.min.js": "bpmn-navigated-viewer.js",
    "bpmn-js/dist/bpmn-modeler.production.min.js": "bpmn-modeler.js",
    "bpmn-js/dist/assets/diagram-js.css": "diagram-js.css",
    "bpmn-js/dist/assets/bpmn-js.css": "bpmn-js.css",
    "bpmn-js-properties-panel/dist/bpmn-js-properties-panel.umd.js": "bpmn-js-properties-panel.js",
    "@bpmn-io/properties-panel/dist/assets/properties-panel.css": "properties-panel.css",
    "camunda-bpmn-moddle/resources/camunda.json": "camunda-moddle.json",
}
FOLDERS = {"bpmn-js/dist/assets/bpmn-font": "bpmn-font"}


def main() -> int:
    if not MODULES.exists():
        print("node_modules mangler: kjør `npm ci` først", file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    for source, name in FILES.items():
        shutil.copy2(MODULES / source, TARGET / name)
    for source, name in FOLDERS.items():
        shutil.copytree(MODULES / source, TARGET / name, dirs_exist_ok=True)
    (TARGET / "README").write_text("Copied from node_modules by tools/copy_assets.py; not committed.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
