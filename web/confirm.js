// Asks before a destructive action, in the page's own modal dialog (the browser's confirm()
// cannot be styled, and blocks the page's live updates while open). Focus returns to where it
// was.
import { setText } from './dom.js';

const $ = (id) => document.getElementById(id);

// Resolves true when the user confirms. `action` labels the confirming button ("Cancel task").
export function confirmAction({ title, text, action }) {
  const dialog = $('confirm-dialog');
  const back = document.activeElement;
  setText($('confirm-title'), title);
  setText($('confirm-text'), text);
  setText($('confirm-yes'), action);
  return new Promise((resolve) => {
    const done = () => {
      dialog.removeEventListener('close', done);
      resolve(dialog.returnValue === 'yes');
      if (back instanceof HTMLElement && back.isConnected) back.focus();
    };
    dialog.returnValue = '';
    dialog.addEventListener('close', done);
    dialog.showModal();
    $('confirm-no').focus();
  });
}
