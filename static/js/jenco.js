// The little JavaScript JENCO needs: a form sent once at a time, Back to a form that answered a
// post without "Confirm Form Resubmission", a new captcha picture without
// reloading the page, its digits spoken on the page, the member ID typed on the sign-in
// page carried to "Forgot password?", a button that copies the authenticator app's key, and
// the number pad for a two-step code.
// Everything works without it; the server answers a form sent twice as it answered the first.

// A form is sent once while its answer is on its way: a double tap on a phone otherwise sends
// it again, and the repeat meets a captcha already used or a PIN already changed. A form
// another script sends itself (passkeys.js) is left to it; if no answer comes (a lost
// connection), the form can be sent again after a while, and at once on coming back to the
// page.
const SENDING_MS = 10000;
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (event.defaultPrevented) return;
  if (form.dataset.sending) {
    event.preventDefault();
    return;
  }
  form.dataset.sending = "1";
  setTimeout(() => delete form.dataset.sending, SENDING_MS);
});
window.addEventListener("pageshow", () => {
  for (const form of document.forms) delete form.dataset.sending;
});

// A page that answers a form sent to its own address (a mistake marked, the form again) stands
// in the history as that address rather than as the post: Back to it, or reloading it, asks
// for the page again. Chromium otherwise shows its own "Confirm Form Resubmission" page
// (ERR_CACHE_MISS) and offers to send the form again: a captcha used or a code counted twice.
// On a page that was not a post's answer this changes nothing. A page that answers a post
// with no form of its own says so (data-answers-a-post: the sign-in paused page).
const answersItsOwnForm = [...document.forms].some(
  // The attributes, not form.action and form.method: a field of that name would stand in.
  (form) =>
    form.getAttribute("method")?.toLowerCase() === "post" &&
    new URL(form.getAttribute("action") || "", location.href).pathname === location.pathname,
);
if (answersItsOwnForm || document.querySelector("[data-answers-a-post]")) {
  history.replaceState(history.state, "", location.href);
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-captcha-refresh]");
  if (!button) return;
  const box = button.closest(".captcha");
  const response = await fetch(button.dataset.captchaRefresh, {
    headers: { "X-Requested-With": "XMLHttpRequest" },
    credentials: "same-origin",
  });
  if (!response.ok) return;
  const data = await response.json();
  box.querySelector("[data-captcha-image]").src = data.image_url;
  const audio = box.querySelector("[data-captcha-audio]");
  if (audio && data.audio_url) audio.href = data.audio_url;
  if (spoken) spoken.pause(); // it spoke the old picture's digits
  box.querySelector("input[type=hidden]").value = data.key;
  const answer = box.querySelector("input[type=text]");
  answer.value = "";
  answer.focus();
});

// The captcha's digits spoken (the link beside the picture), played on the page itself:
// following the link would leave the form, and the sign-in page is never cached, so coming
// back would show a new picture that the recording no longer matches.
let spoken = null;
document.addEventListener("click", (event) => {
  const link = event.target.closest("[data-captcha-audio]");
  if (!link) return;
  event.preventDefault();
  if (spoken) spoken.pause();
  spoken = new Audio(link.href);
  spoken.play().catch(() => {}); // nothing to play on (no sound device): the page stays usable
});

// "Forgot password?" on the sign-in page takes the member ID typed there along, in the link's
// fragment (#member_id=...), which the browser never sends: no server or log sees it. The link
// follows the field as it is typed (a tap, a long press, a new tab alike). Only the forgot
// form fills its member ID field from it, if empty, and drops the fragment from the address:
// another page, the sign-in page's own, takes no member ID from a link made elsewhere.
const carryMemberId = () => {
  const typed = document.querySelector("form input[name=username]")?.value.trim() ?? "";
  for (const link of document.querySelectorAll("a[data-carries-member-id]")) {
    link.hash = typed ? new URLSearchParams({ member_id: typed.slice(0, 64) }).toString() : "";
  }
};
for (const kind of ["input", "change"]) {
  document.addEventListener(kind, (event) => {
    if (event.target.matches("form input[name=username]")) carryMemberId();
  });
}
// And just before the link is used: a password manager's fill or a restored form may send
// no input event.
for (const kind of ["pointerdown", "focusin"]) {
  document.addEventListener(kind, (event) => {
    if (event.target.closest?.("a[data-carries-member-id]")) carryMemberId();
  });
}
// The member ID typed on the sign-in page is kept with the page's place in the history (its
// state, which stays in this tab) until the form is sent: Back to the page, from "Forgot
// password?" after a failed sign-in say, asks the server for it again, which sends it blank,
// and the ID is put back. Only the member ID: never the password or the captcha's answer.
// Across a new place in the history (the language switch answers with the page anew) the ID
// goes in this tab's session storage, read once by the next page whatever it is, so no link
// can put an ID in the field (helper-151: switching to ENGLISH emptied it).
const CARRIED_ID = "jenco.carriedMemberId";
// Null where the browser keeps no storage for the site: reading it throws then (or it is
// null, Firefox with dom.storage off), and the rest of this file, the forgot form's ID among
// it, stopped there (helper-154). Nothing is carried then.
const tabStorage = (() => {
  try {
    return window.sessionStorage ?? null;
  } catch {
    return null;
  }
})();
const carriedId = tabStorage?.getItem(CARRIED_ID) ?? null;
tabStorage?.removeItem(CARRIED_ID);
// The registration's done page shows the new member ID; its sign-in button takes the ID along
// the same way, in this tab and to the next page only (helper-153: the sign-in form came up
// empty, and a new member on a phone copied the ID off the page by hand).
document.querySelector("a[data-signs-in-as]")?.addEventListener("click", (event) => {
  tabStorage?.setItem(CARRIED_ID, event.currentTarget.dataset.signsInAs.slice(0, 64));
});
{
  const field = document.querySelector("form[data-keeps-member-id] input[name=username]");
  if (field) {
    const kept = history.state?.memberId ?? carriedId;
    if (!field.value && typeof kept === "string") field.value = kept.slice(0, 64);
    document.querySelector("details.language form")?.addEventListener("submit", () => {
      const typed = field.value.trim().slice(0, 64);
      if (typed) tabStorage?.setItem(CARRIED_ID, typed);
    });
    const keep = () => {
      const state = { ...history.state, memberId: field.value.slice(0, 64) };
      history.replaceState(state, "", location.href);
    };
    keep();
    for (const kind of ["input", "change"]) field.addEventListener(kind, keep);
    // Sent, the form no longer keeps it: after a sign-in and a sign-out, Back on a shared
    // computer showed the member ID of whoever signed in (helper-149). A failed sign-in's
    // answer, a page of its own, keeps it again from the field it comes back with.
    field.form.addEventListener("submit", () => {
      const { memberId, ...rest } = history.state ?? {};
      history.replaceState(rest, "", location.href);
    });
  }
}
// On load (the ID a failed sign-in's page came back with) and on Back to the page.
window.addEventListener("pageshow", carryMemberId);
{
  const carried = new URLSearchParams(location.hash.slice(1)).get("member_id");
  const field = document.querySelector("form[data-takes-member-id] input[name=username]");
  if (carried !== null && field) {
    if (!field.value) field.value = carried.slice(0, 64);
    history.replaceState(history.state, "", location.pathname + location.search);
  }
}

// The authenticator app's key (Account > Security, set up): a button copies it, without its
// spaces, and says so in the live region beside it for screen readers too; the recovery
// codes' button copies its data-copy-text, one code a line. The button shows only where the
// browser offers to copy (a page over plain http on another address does not); everywhere,
// a tap on the key selects it whole (user-select in jenco.css).
if (navigator.clipboard?.writeText) {
  for (const button of document.querySelectorAll("button[data-copies]")) button.hidden = false;
}
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copies]");
  if (!button) return;
  const card = button.closest("section") ?? document;
  const source = card.querySelector(button.dataset.copies);
  const status = card.querySelector("[data-copy-status]");
  if (!source) return;
  if (status) status.textContent = "";
  try {
    const text = button.dataset.copyText ?? source.textContent.replace(/\s+/g, "");
    await navigator.clipboard.writeText(text);
    if (status) status.textContent = button.dataset.copied;
  } catch {
    // Refused (no permission): the key or codes selected, for the browser's own Copy.
    getSelection()?.selectAllChildren(source);
    if (status) status.textContent = button.dataset.notCopied;
  }
});

// The second step's box (/login/code/) takes the authenticator app's 6 digits or a recovery
// code of letters and digits: a phone opens its number pad for it, and "Type a recovery code
// instead" beside it brings the letters back. Without the script the box keeps the keyboard
// with both.
for (const button of document.querySelectorAll("button[data-letters-for]")) {
  const box = document.getElementById(button.dataset.lettersFor);
  if (!box) continue;
  box.inputMode = "numeric";
  button.hidden = false;
  button.addEventListener("click", () => {
    box.inputMode = "text";
    button.hidden = true;
    box.focus();
  });
}
