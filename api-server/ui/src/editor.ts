// The YAML editor of an Istio object (CodeMirror 6 with its YAML mode) and the diff shown before a save
// (@codemirror/merge, side by side, read-only).

import { EditorState } from "@codemirror/state";
import { EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { bracketMatching, defaultHighlightStyle, foldGutter, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { yaml } from "@codemirror/lang-yaml";
import { MergeView } from "@codemirror/merge";

const base = [lineNumbers(), foldGutter(), drawSelection(), indentOnInput(), bracketMatching(), syntaxHighlighting(defaultHighlightStyle), yaml()];

export interface YamlEditor {
  text(): string;
  setText(t: string): void;
  destroy(): void;
}

/** An editor in `parent` holding `text`; `onChange` after every edit. */
export function yamlEditor(parent: HTMLElement, text: string, onChange: () => void, readOnly = false): YamlEditor {
  const view = new EditorView({
      parent,
      state: EditorState.create({
        doc: text,
        extensions: [
          ...base,
          history(),
          highlightActiveLine(),
          keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
          EditorState.readOnly.of(readOnly),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) onChange();
          }),
        ],
      }),
    });
  return {
    text: () => view.state.doc.toString(),
    setText: (t) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: t } }),
    destroy: () => view.destroy(),
  };
}

/** The loaded text (left) beside the edited text (right), changes highlighted. */
export function diffView(parent: HTMLElement, before: string, after: string): { destroy(): void } {
  const ro = [...base, EditorState.readOnly.of(true), EditorView.editable.of(false)];
  return new MergeView({ parent, a: { doc: before, extensions: ro }, b: { doc: after, extensions: ro }, collapseUnchanged: { margin: 3 } });
}
