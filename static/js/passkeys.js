// Passkeys (WebAuthn): a form marked data-passkey="create" or "get" asks the phone, computer or
// security key for a passkey when it is sent, puts the answer in its hidden "passkey" field and
// sends it on. The options (with the server's one-time challenge) are in the page, in
// <script type="application/json" id="passkey-options">. The messages come from the form's
// data-passkey-* attributes, in the member's language. Nothing here talks to any other site.
(() => {
  const toBytes = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
  };
  const toText = (buffer) => {
    if (!buffer) return null;
    let binary = "";
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };

  const withBytes = (options) => {
    options.challenge = toBytes(options.challenge);
    if (options.user) options.user.id = toBytes(options.user.id);
    for (const list of [options.excludeCredentials, options.allowCredentials]) {
      for (const each of list || []) each.id = toBytes(each.id);
    }
    return options;
  };

  const answer = (credential) => {
    const r = credential.response;
    const response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = toText(r.userHandle);
    }
    return JSON.stringify({
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
    });
  };

  const say = (form, text) => {
    const status = form.querySelector("[data-passkey-status]");
    if (!status) return;
    status.textContent = text;
    status.hidden = false;
  };

  const loaded = Date.now();

  // Adding one: the name and PIN given on the page before hold for the seconds the page says.
  // Past them the server would refuse what the device makes, and the passkey would stay on
  // the phone: back to the first step instead of asking the device.
  const expired = (form) =>
    form.dataset.passkeySeconds !== undefined &&
    Date.now() - loaded > (Number(form.dataset.passkeySeconds) - 5) * 1000;

  document.addEventListener("DOMContentLoaded", () => {
    for (const form of document.querySelectorAll("form[data-passkey]")) {
      if (!window.PublicKeyCredential) {
        say(form, form.dataset.passkeyUnsupported);
        for (const button of form.querySelectorAll("button")) button.disabled = true;
        continue;
      }
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (expired(form)) {
          window.location.assign(form.dataset.passkeyExpired);
          return;
        }
        const source = document.getElementById("passkey-options");
        const options = withBytes(JSON.parse(source.textContent));
        const button = form.querySelector("button[type=submit]");
        button.disabled = true;
        try {
          const credential =
            form.dataset.passkey === "create"
              ? await navigator.credentials.create({ publicKey: options })
              : await navigator.credentials.get({ publicKey: options });
          form.querySelector("input[name=passkey]").value = answer(credential);
          form.submit();
        } catch (error) {
          button.disabled = false;
          // Trying again would not help with two of the browser's refusals: a page opened by a
          // numeric address (127.0.0.1) may not use passkeys, and a device holding one of this
          // member's passkeys may not add another (the page lists them to exclude). Anything
          // else (NotAllowedError) reads as the member having cancelled, which covers a device
          // with no passkey for this site too.
          const reasons = {
            SecurityError: form.dataset.passkeyWrongAddress,
            InvalidStateError: form.dataset.passkeyAlreadyHere,
          };
          const known = error && Object.hasOwn(reasons, error.name);
          say(form, known ? reasons[error.name] : form.dataset.passkeyCancelled);
        }
      });
    }
  });
})();
