// The submit form: a seed example as a ready spec, editable; the daemon's validation error
// (with the path of the bad field) shows next to the input.
import { api } from './api.js';
import { el, setText } from './dom.js';
import { EXAMPLES } from './examples.js';

export function setupSubmit({ form, select, note, textarea, error, result, onSubmitted }) {
  for (const ex of EXAMPLES) select.append(el('option', { value: ex.id }, ex.title));
  const choose = () => {
    const ex = EXAMPLES.find((x) => x.id === select.value) ?? EXAMPLES[0];
    textarea.value = JSON.stringify(ex.spec, null, 2);
    setText(note, ex.note);
    clearError();
  };
  const clearError = () => {
    setText(error, '');
    textarea.removeAttribute('aria-invalid');
  };
  select.addEventListener('change', choose);
  textarea.addEventListener('input', clearError);
  select.value = 'gather';
  choose();

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError();
    setText(result, '');
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      // Sent as typed: the daemon's parser reports malformed JSON as well as bad fields.
      const { data } = await api('POST', '/api/tasks', textarea.value);
      setText(result, `submitted ${data.id}`);
      onSubmitted(data);
    } catch (err) {
      setText(error, err.message);
      textarea.setAttribute('aria-invalid', 'true');
    } finally {
      button.disabled = false;
    }
  });
}
