/**
 * Highlight `%%kestra_flow` cells as YAML and `%%kestra_file NAMESPACE PATH` cells by PATH's
 * extension (Python, YAML, shell, SQL, JSON), as JupySQL does for `%%sql`: a code cell's editor
 * language follows its MIME type, so the cell's MIME type is set from its first line, and set back
 * to the notebook's when the magic goes away. The notebook resets every code cell's MIME type
 * when the kernel's language info arrives; the MIME-type-changed signal puts ours back.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

const BY_EXTENSION: { [ext: string]: string } = {
  py: 'text/x-python',
  yml: 'text/x-yaml',
  yaml: 'text/x-yaml',
  sh: 'text/x-sh',
  bash: 'text/x-sh',
  sql: 'text/x-sql',
  json: 'application/json',
  md: 'text/x-markdown',
  js: 'text/javascript',
  r: 'text/x-rsrc'
};

/** The MIME type a cell's editor should use, or null when the cell is not a Kestra cell magic. */
export function kestraMimeType(source: string): string | null {
  const first = source.split('\n', 1)[0].trim();
  if (/^%%kestra_flow(\s|$)/.test(first)) {
    return 'text/x-yaml';
  }
  const file = /^%%kestra_file(\s|$)/.test(first);
  if (!file) {
    return null;
  }
  const args = first.split(/\s+/).filter(a => !a.startsWith('-'));
  const path = args.length >= 3 ? args[2] : '';
  const dot = path.lastIndexOf('.');
  const ext = dot >= 0 ? path.slice(dot + 1).toLowerCase() : '';
  return BY_EXTENSION[ext] ?? 'text/plain';
}

type CellModelLike = {
  type: string;
  mimeType: string;
  sharedModel: { getSource(): string; changed: { connect(fn: () => void): void } };
  mimeTypeChanged: { connect(fn: () => void): void };
};

const watched = new WeakSet<object>();

function watchCell(model: CellModelLike, fallback: () => string): void {
  if (model.type !== 'code' || watched.has(model)) {
    return;
  }
  watched.add(model);
  let applying = false;
  let ours = false; // whether the cell's current MIME type was set here
  const apply = () => {
    if (applying) {
      return;
    }
    const wanted = kestraMimeType(model.sharedModel.getSource());
    const target = wanted ?? (ours ? fallback() : null);
    ours = wanted !== null;
    if (target && model.mimeType !== target) {
      applying = true;
      try {
        model.mimeType = target;
      } finally {
        applying = false;
      }
    }
  };
  model.sharedModel.changed.connect(apply);
  model.mimeTypeChanged.connect(apply);
  apply();
}

function watchNotebook(panel: NotebookPanel): void {
  const notebook = panel.content;
  const fallback = () => notebook.codeMimetype || 'text/x-ipython';
  const scan = () => {
    const cells = notebook.model?.cells;
    if (!cells) {
      return;
    }
    for (let i = 0; i < cells.length; i++) {
      watchCell(cells.get(i) as unknown as CellModelLike, fallback);
    }
  };
  notebook.modelChanged.connect(() => {
    scan();
    notebook.model?.cells.changed.connect(scan);
  });
  notebook.model?.cells.changed.connect(scan);
  scan();
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'kestra-magic-highlight:plugin',
  description: 'YAML / Python highlighting of %%kestra_flow and %%kestra_file cells',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker) => {
    tracker.forEach(watchNotebook);
    tracker.widgetAdded.connect((_sender, panel) => watchNotebook(panel));
  }
};

export default plugin;
