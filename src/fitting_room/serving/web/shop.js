// The shopper page: form -> POST /recommend -> cards; "More like this" -> POST /generate.
// Same-origin JSON only: no libraries, no external hosts (the page must work offline).
"use strict";

const form = document.getElementById("profile");
const statusLine = document.getElementById("status");
const results = document.getElementById("results");
const variations = document.getElementById("variations");
const variationsSection = document.getElementById("variations-section");

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
  img.width = 112;
  img.height = 112;
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
  li.append(image(item.preview, `generated preview of ${item.generator_class}`), title, size, meter, odds, more);
  return li;
}

async function showVariations(item) {
  say(`Generating variations of ${item.generator_class}...`);
  try {
    // start from the preview's own seed: each click shows the next, reproducible set
    item.round = (item.round || 0) + 1;
    const seed = (item.preview_seed + item.round) % 2147483648;
    const data = await postJson("../generate", { category: item.generator_class, n: 6, seed });
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
    const data = await postJson("../recommend", { profile: readProfile(), k });
    results.replaceChildren(...data.items.map(card));
    say(`${data.items.length} suggestions${data.cold_start ? " (new shopper)" : ""}.`);
  } catch (err) {
    results.replaceChildren();
    say(err.message, true);
  } finally {
    results.removeAttribute("aria-busy");
  }
});
