// The shopper page: form -> POST /recommend -> cards; "More variations" -> POST /generate;
// "Try it on" -> POST /try-on, shown in a modal dialog with one drawing per size.
// Same-origin JSON only: no libraries, no external hosts (the page must work offline).
"use strict";

const form = document.getElementById("profile");
const statusLine = document.getElementById("status");
const results = document.getElementById("results");
const variations = document.getElementById("variations");
const variationsSection = document.getElementById("variations-section");
const tryon = document.getElementById("tryon");
const tryonImage = document.getElementById("tryon-image");
const tryonChoices = document.getElementById("tryon-choices");
const tryonNote = document.getElementById("tryon-note");

function say(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}

function numberOrNull(name) {
  const raw = form.elements[name].value.trim();
  return raw === "" ? null : Number(raw);
}

function textOrNull(name) {
  const raw = form.elements[name].value.trim();
  return raw === "" ? null : raw;
}

function readProfile() {
  const profile = {
    height_cm: numberOrNull("height_cm"),
    weight_kg: numberOrNull("weight_kg"),
    bust_band_cm: numberOrNull("bust_band_cm"),
    cup: textOrNull("cup"),
    waist_cm: numberOrNull("waist_cm"),
    hips_cm: numberOrNull("hips_cm"),
    age_years: numberOrNull("age_years"),
    body_type: textOrNull("body_type"),
    occasion: textOrNull("occasion"),
    categories: [...form.querySelectorAll("input[name=categories]:checked")].map((el) => el.value),
  };
  for (const key of Object.keys(profile)) {
    if (profile[key] === null) delete profile[key];
  }
  return profile;
}

async function postJson(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(describeError(data) || `request failed (${response.status})`);
  }
  return data;
}

function describeError(data) {
  const payload = Array.isArray(data) ? data[0] : data;
  if (payload && Array.isArray(payload.detail) && payload.detail.length) {
    return payload.detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
  }
  return payload && payload.error;
}

function image(b64, alt) {
  const img = document.createElement("img");
  img.src = `data:image/png;base64,${b64}`;
  img.alt = alt;
  img.width = 128;
  img.height = 128;
  return img;
}

function card(item) {
  const li = document.createElement("li");
  li.className = "card";
  const title = document.createElement("h3");
  title.textContent = `${item.category || item.generator_class} #${item.item_id}`;
  const size = document.createElement("p");
  const fitPct = Math.round(item.fit.fit * 100);
  size.textContent = item.advised_size === null
    ? `Fit confidence ${fitPct}%`
    : `Advised size ${item.advised_size}, fit confidence ${fitPct}%`;
  const meter = document.createElement("div");
  meter.className = "meter";
  meter.setAttribute("role", "img");
  meter.setAttribute("aria-label", `fit confidence ${fitPct} percent`);
  const bar = document.createElement("span");
  bar.style.width = `${fitPct}%`;
  meter.append(bar);
  const odds = document.createElement("p");
  odds.className = "odds";
  odds.textContent = `too small ${Math.round(item.fit.small * 100)}%, too large ${Math.round(item.fit.large * 100)}%`;
  const more = document.createElement("button");
  more.type = "button";
  more.textContent = "More variations";
  more.setAttribute("aria-label", `More variations of ${title.textContent}`);
  more.addEventListener("click", () => showVariations(item));
  const tryIt = document.createElement("button");
  tryIt.type = "button";
  tryIt.className = "try-on";
  tryIt.textContent = "Try it on";
  tryIt.setAttribute("aria-label", `Try on ${title.textContent}`);
  tryIt.addEventListener("click", () => openTryOn(item, tryIt));
  li.append(image(item.preview, `generated preview of ${item.generator_class}`), title, size, meter, odds, tryIt, more);
  return li;
}

function showSize(view) {
  tryonImage.src = `data:image/png;base64,${view.image}`;
  tryonImage.alt = view.alt;
  tryonNote.textContent = view.note;
}

async function openTryOn(item, opener) {
  say(`Drawing ${item.generator_class} #${item.item_id} on your figure...`);
  try {
    const data = await postJson("../try-on", { profile: readProfile(), item_id: item.item_id });
    document.getElementById("tryon-title").textContent = `Try on ${item.category || data.generator_class} #${item.item_id}`;
    document.getElementById("tryon-disclaimer").textContent = data.disclaimer;
    const estimated = data.imputed.length ? ` (estimated: ${data.imputed.join(", ")})` : "";
    const m = data.measurements;
    document.getElementById("tryon-body").textContent =
      `Figure: ${m.height_cm} cm, bust ${m.bust_cm}, waist ${m.waist_cm}, hips ${m.hips_cm} cm${estimated}.`;
    const advised = data.sizes.find((v) => v.size === data.advised_size) || data.sizes[0];
    tryonChoices.replaceChildren(
      ...data.sizes.map((view) => {
        const label = document.createElement("label");
        const radio = document.createElement("input");
        radio.type = "radio";
        radio.name = "tryon-size";
        radio.value = String(view.size);
        radio.checked = view === advised;
        radio.addEventListener("change", () => showSize(view));
        // each size carries its own short note ("snug across hips"); the full one shows when picked
        const short = view.note.replace(/^Size [^:]+: /, "").replace(/ \(.*$/, "");
        label.append(radio, ` ${view.size}${view === advised ? " (advised)" : ""}: ${short}`);
        return label;
      }),
    );
    showSize(advised);
    tryon.returnFocus = opener;
    tryon.showModal();
    tryonChoices.querySelector("input:checked").focus();
    say(`Showing ${item.generator_class} #${item.item_id} in ${data.sizes.length} sizes.`);
  } catch (err) {
    say(err.message, true);
  }
}

document.getElementById("tryon-close").addEventListener("click", () => tryon.close());
tryon.addEventListener("close", () => tryon.returnFocus && tryon.returnFocus.focus());

async function showVariations(item) {
  say(`Generating variations of ${item.generator_class}...`);
  try {
    // start from the preview's own seed: each click shows the next, reproducible set
    item.round = (item.round || 0) + 1;
    const seed = (item.preview_seed + item.round) % 2147483648;
    const data = await postJson("../generate", { category: item.generator_class, n: 6, seed, style: "photo" });
    variations.replaceChildren(
      ...data.images.map((b64, i) => image(b64, `variation ${i + 1} of ${data.category}`)),
    );
    variationsSection.hidden = false;
    say(`${data.images.length} variations of ${data.category}.`);
  } catch (err) {
    say(err.message, true);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const k = Number(form.elements.k.value || 6);
  say("Finding garments for you...");
  results.setAttribute("aria-busy", "true");
  try {
    const data = await postJson("../recommend", { profile: readProfile(), k, style: "photo" });
    results.replaceChildren(...data.items.map(card));
    say(`${data.items.length} suggestions${data.cold_start ? " (new shopper)" : ""}.`);
  } catch (err) {
    results.replaceChildren();
    say(err.message, true);
  } finally {
    results.removeAttribute("aria-busy");
  }
});
