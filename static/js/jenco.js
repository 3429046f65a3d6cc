// The little JavaScript JENCO needs: a new captcha picture without reloading the page.
// Everything works without it; the button is an extra.
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
  box.querySelector("input[type=hidden]").value = data.key;
  const answer = box.querySelector("input[type=text]");
  answer.value = "";
  answer.focus();
});
