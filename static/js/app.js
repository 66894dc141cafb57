// SmallImage: drag-and-drop uploads with a progress bar per file, and copy buttons.
// Everything here enhances pages that already work without JavaScript.
"use strict";

document.documentElement.classList.add("js");

const MAX_PARALLEL_UPLOADS = 3;

function announce(text) {
  const live = document.getElementById("live-status");
  if (live) live.textContent = text;
}

// ---- Copy buttons -------------------------------------------------------

async function copyText(button) {
  const text = button.dataset.copy;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard permission (or an insecure origin): select the text so
    // that the user can copy it by hand.
    const field = button.closest(".input-group")?.querySelector("input");
    if (field) field.select();
    announce("Select the link and copy it.");
    return;
  }
  if (!button.dataset.label) button.dataset.label = button.innerHTML;
  button.textContent = "Copied!";
  button.classList.add("is-copied");
  announce("Link copied to the clipboard.");
  setTimeout(() => {
    button.innerHTML = button.dataset.label;
    button.classList.remove("is-copied");
  }, 1500);
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (button) copyText(button);
});

// A freshly made expiring link is copied at once: the click that made it
// still counts as the user's gesture.
document.addEventListener("htmx:load", (event) => {
  const button = event.detail.elt.querySelector?.("[data-autocopy]");
  if (button) copyText(button);
});

// ---- Uploads --------------------------------------------------------------

function setUpUploads() {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("upload-input");
  const dropzone = document.getElementById("dropzone");
  const queue = document.getElementById("upload-queue");
  const grid = document.getElementById("grid");
  const csrfToken = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const waiting = [];
  let running = 0;

  function queueItem(file) {
    const item = document.createElement("li");
    item.className = "upload-item";
    item.innerHTML =
      '<span class="name small"></span>' +
      '<div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0">' +
      '<div class="progress-bar"></div></div>' +
      '<div class="message small"></div>';
    item.querySelector(".name").textContent = file.name;
    item.querySelector(".progress").setAttribute("aria-label", `Upload of ${file.name}`);
    queue.append(item);
    return item;
  }

  function setProgress(item, percent) {
    const bar = item.querySelector(".progress");
    bar.setAttribute("aria-valuenow", String(Math.round(percent)));
    bar.firstElementChild.style.width = `${percent}%`;
  }

  function finish(item, ok, messageNode) {
    const bar = item.querySelector(".progress-bar");
    bar.classList.add(ok ? "bg-success" : "bg-danger");
    setProgress(item, 100);
    item.classList.add(ok ? "is-done" : "is-failed");
    const message = item.querySelector(".message");
    if (messageNode) message.replaceChildren(messageNode);
    if (ok) setTimeout(() => item.remove(), 2500);
  }

  function parse(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  function send(file, item) {
    const body = new FormData();
    body.append("files", file, file.name);
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("HX-Request", "true");
    request.setRequestHeader("X-CSRFToken", csrfToken);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) setProgress(item, (event.loaded / event.total) * 100);
    });
    request.addEventListener("load", () => {
      // Our own error answers (4xx, 503) carry a message; anything else gets a generic one.
      const content = request.status < 500 || request.status === 503 ? parse(request.responseText) : null;
      const cards = content ? [...content.querySelectorAll(".image-card")] : [];
      const error = content?.querySelector(".upload-error");
      for (const card of cards.reverse()) {
        grid.prepend(card);
        htmx.process(card);
      }
      if (request.status === 201) {
        finish(item, true);
        announce(`${file.name} uploaded.`);
      } else {
        const text = error ? error.textContent : `Upload failed (${request.status}). Please try again.`;
        const node = document.createElement("span");
        node.className = "text-danger";
        node.setAttribute("role", "alert");
        node.textContent = text;
        finish(item, false, node);
      }
      next();
    });
    request.addEventListener("error", () => {
      const node = document.createElement("span");
      node.className = "text-danger";
      node.setAttribute("role", "alert");
      node.textContent = "The connection failed. Please try again.";
      finish(item, false, node);
      next();
    });
    request.send(body);
  }

  function next() {
    running = Math.max(0, running - 1);
    pump();
  }

  function pump() {
    while (running < MAX_PARALLEL_UPLOADS && waiting.length) {
      running += 1;
      const [file, item] = waiting.shift();
      send(file, item);
    }
  }

  function upload(files) {
    for (const file of files) waiting.push([file, queueItem(file)]);
    pump();
  }

  input.addEventListener("change", () => {
    upload([...input.files]);
    input.value = "";
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    upload([...input.files]);
    input.value = "";
  });

  for (const type of ["dragenter", "dragover"]) {
    dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      dropzone.classList.add("is-dragover");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    dropzone.addEventListener(type, () => dropzone.classList.remove("is-dragover"));
  }
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    upload([...event.dataTransfer.files]);
  });
  // A file dropped beside the zone must not make the browser open it.
  document.addEventListener("dragover", (event) => event.preventDefault());
  document.addEventListener("drop", (event) => event.preventDefault());

  document.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (files.length) {
      event.preventDefault();
      upload(files);
    }
  });
}

setUpUploads();
