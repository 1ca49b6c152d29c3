// Patrols (格中走): the map of a patrol's track, and the recorder of the patrol under way.
// The recorder keeps every position in localStorage until the server has it, so a reload, a tunnel
// or a flat network loses nothing; it sends a batch every 30 s or 20 points to the API with the
// session's CSRF token. The distance shown between uploads adds the waiting points to the server's
// figure with the server's own rules (out of order or faster than the limit: not counted).
// Base tiles only when the server sets GRIDGOV_MAP_TILE_URL: intranets have no internet.
(function () {
  "use strict";

  const readJSON = (id) => {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  };

  const haversine = (lat1, lng1, lat2, lng2) => {
    const rad = Math.PI / 180;
    const dp = (lat2 - lat1) * rad;
    const dl = (lng2 - lng1) * rad;
    const a = Math.sin(dp / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dl / 2) ** 2;
    return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(a)));
  };

  // --- the patrol page: the track over the grid ---
  function trackMap() {
    const el = document.getElementById("gg-patrol-map");
    const data = readJSON("gg-patrol-map-data");
    if (!el || !data || typeof L === "undefined") return;
    const map = L.map(el, { zoomSnap: 0.25, attributionControl: Boolean(el.dataset.tileUrl) });
    if (el.dataset.tileUrl) {
      L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
    }
    const grid = data.boundary
      ? L.geoJSON(data.boundary, {
        style: { color: "#1f4e79", weight: 1.5, fillColor: "#5b9bd5", fillOpacity: 0.08 },
        interactive: false,
      })
      : null;
    const ends = { start: "#198754", end: "#dc3545", last: "#dc3545" };
    let flagged = 0;
    const track = L.geoJSON(data.track, {
      style: { color: "#0d6efd", weight: 4, opacity: 0.85 },
      pointToLayer: (f, latlng) => {
        const kind = f.properties.kind;
        if (kind === "flagged") {
          flagged += 1;
          // Hollow, dashed and orange: plainly not part of the counted line.
          return L.circleMarker(latlng, {
            radius: 6, color: "#fd7e14", weight: 2, dashArray: "2 2", fillColor: "#ffc107", fillOpacity: 0.5,
          }).bindTooltip(f.properties.flag_label || f.properties.flag);
        }
        return L.circleMarker(latlng, {
          radius: 8, color: "#fff", weight: 2, fillColor: ends[kind] || "#6c757d", fillOpacity: 1,
        });
      },
    });
    const bounds = track.getLayers().length ? track.getBounds() : grid ? grid.getBounds() : null;
    if (bounds && bounds.isValid()) {
      map.fitBounds(bounds, { padding: [16, 16], maxZoom: 18 });
    } else {
      map.setView([32.6, 117.0], 13);
    }
    if (grid) grid.addTo(map);
    track.addTo(map);
    el.dataset.flagged = String(flagged);
    el.dataset.features = String(track.getLayers().length);
    el.dataset.ready = "1";
  }

  // --- the current patrol page: record, buffer, upload ---
  function recorder() {
    const cfg = readJSON("gg-patrol-config");
    const form = document.getElementById("gg-patrol-end-form");
    const texts = document.getElementById("gg-patrol-messages");
    if (!cfg || !form || !texts) return;
    const say = (name, values) => {
      let text = texts.dataset[name] || "";
      Object.entries(values || {}).forEach(([k, v]) => { text = text.replace("%(" + k + ")s", String(v)); });
      return text;
    };
    const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
    const statusEl = document.getElementById("gg-patrol-status");
    const distanceEl = document.getElementById("gg-patrol-distance");
    const durationEl = document.getElementById("gg-patrol-duration");
    const pointsEl = document.getElementById("gg-patrol-points");
    const pendingEl = document.getElementById("gg-patrol-pending");
    const pendingLine = document.getElementById("gg-patrol-pending-line");
    const sendButton = document.getElementById("gg-patrol-send");
    const key = "gridgov.patrol." + cfg.id;
    const started = Date.parse(cfg.startedAt);

    // Buffers of earlier patrols can no longer be sent (an ended patrol refuses points).
    Object.keys(localStorage)
      .filter((k) => k.startsWith("gridgov.patrol.") && k !== key)
      .forEach((k) => localStorage.removeItem(k));

    const load = () => {
      try {
        const stored = JSON.parse(localStorage.getItem(key) || "[]");
        return Array.isArray(stored) ? stored : [];
      } catch (e) {
        return [];
      }
    };
    let buffer = load();
    const save = () => {
      try {
        localStorage.setItem(key, JSON.stringify(buffer));
      } catch (e) {
        // Storage full: the points stay in memory and are still sent while the page is open.
      }
    };
    const totals = { distance: cfg.distance, points: cfg.points, flagged: cfg.flagged, last: cfg.last };
    let sending = false;
    let watch = null;
    let ended = false;
    let locationProblem = false;

    const setStatus = (text, colour) => {
      statusEl.textContent = text;
      statusEl.className = "mt-3 small text-" + (colour || "muted");
    };
    const distanceText = (m) => (m >= 1000
      ? say("km", { km: (m / 1000).toFixed(2) })
      : say("m", { m: Math.round(m) }));
    // The waiting points' share of the distance, by the server's rules, from its last counted point.
    const pendingDistance = () => {
      let last = totals.last;
      let sum = 0;
      buffer.forEach((p) => {
        if (last) {
          if (p.t <= last.t) return;
          const step = haversine(last.lat, last.lng, p.lat, p.lng);
          if (step / ((p.t - last.t) / 1000) > cfg.maxSpeed) return;
          sum += step;
        }
        last = p;
      });
      return sum;
    };
    const render = () => {
      distanceEl.textContent = distanceText(totals.distance + pendingDistance());
      pointsEl.textContent = String(totals.points + buffer.length);
      pendingEl.textContent = String(buffer.length);
      pendingLine.classList.toggle("d-none", buffer.length === 0);
    };
    const tick = () => {
      const minutes = Math.max(0, Math.floor((Date.now() - started) / 60000));
      durationEl.textContent = minutes >= 60
        ? say("hours", { h: Math.floor(minutes / 60), m: String(minutes % 60).padStart(2, "0") })
        : say("minutes", { m: minutes });
    };

    const stop = () => {
      if (watch !== null && navigator.geolocation) navigator.geolocation.clearWatch(watch);
      watch = null;
    };

    // Send the oldest waiting points (at most one batch); resolves when the answer is handled.
    async function send() {
      if (sending || ended || buffer.length === 0) return;
      sending = true;
      const batch = buffer.slice(0, cfg.batchMax);
      try {
        const response = await fetch(cfg.pointsUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
          body: JSON.stringify({ points: batch }),
        });
        const body = await response.json().catch(() => ({}));
        if (response.ok) {
          buffer.splice(0, batch.length);
          save();
          totals.distance = body.distance_m;
          totals.points = body.point_count;
          totals.flagged = body.flagged_count;
          // The last point the server counted: the newest unflagged one of the batch, if any.
          const flaggedIndexes = new Set((body.flagged || []).map((f) => f.index));
          const counted = batch.filter((p, i) => !flaggedIndexes.has(i));
          if (body.accepted > 0 && counted.length) totals.last = counted[counted.length - 1];
          const time = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
          let text = say("sent", { time: time });
          if (totals.flagged) text += " " + say("flagged", { n: totals.flagged });
          setStatus(text, "success");
        } else if (response.status === 409 && body.code === "patrol_ended") {
          ended = true;
          stop();
          buffer = [];
          localStorage.removeItem(key);
          setStatus(say("ended"), "danger");
        } else if (response.status === 400 && body.fields) {
          // Points the server refuses will never be accepted: drop them, keep the rest for the next try.
          const bad = new Set(Object.keys(body.fields)
            .map((name) => /^points\.(\d+)/.exec(name))
            .filter(Boolean)
            .map((m) => Number(m[1])));
          const dropped = bad.size ? batch.filter((p, i) => bad.has(i)) : batch;
          buffer = buffer.filter((p) => !dropped.includes(p));
          save();
          setStatus(say("refused", { reason: body.message || response.status }), "danger");
        } else {
          setStatus(body.message || say("offline"), "danger");
        }
      } catch (e) {
        setStatus(say("offline"), "warning");
      } finally {
        sending = false;
        render();
      }
      if (!ended && buffer.length >= cfg.uploadAt) await send();
    }

    const record = (position) => {
      const point = {
        t: Math.round(position.timestamp || Date.now()),
        lat: Number(position.coords.latitude.toFixed(7)),
        lng: Number(position.coords.longitude.toFixed(7)),
      };
      if (Number.isFinite(position.coords.accuracy)) point.accuracy = Math.round(position.coords.accuracy * 10) / 10;
      const previous = buffer[buffer.length - 1];
      if (previous && previous.t === point.t) return;
      buffer.push(point);
      save();
      render();
      if (locationProblem || !statusEl.textContent.trim()) {
        locationProblem = false;
        setStatus(say("recording"));
      }
      if (buffer.length >= cfg.uploadAt) send();
    };

    if (!navigator.geolocation) {
      setStatus(say("noGeolocation"), "warning");
    } else {
      setStatus(say("recording"));
      watch = navigator.geolocation.watchPosition(record, (err) => {
        // A timeout only means no fix yet (indoors, under trees): the watch goes on by itself.
        if (err.code === 3) return;
        locationProblem = true;
        setStatus(err.code === 1 ? say("denied") : say("noGeolocation"), "warning");
      }, { enableHighAccuracy: true, maximumAge: 0, timeout: 60000 });
    }
    setInterval(send, cfg.uploadEvery * 1000);
    setInterval(tick, 1000);
    sendButton.addEventListener("click", () => send());
    window.addEventListener("online", () => send());
    // What is waiting from before a reload goes out at once.
    render();
    tick();
    send();

    // End: stop recording, try to send what is waiting, and hand the rest to the form (one last batch).
    let submitting = false;
    form.addEventListener("submit", async (event) => {
      if (submitting) return;
      event.preventDefault();
      submitting = true;
      stop();
      while (sending) await new Promise((resolve) => setTimeout(resolve, 100));
      await send();
      form.querySelector("[name=points]").value = buffer.length ? JSON.stringify(buffer.slice(0, cfg.batchMax)) : "";
      form.submit();
    });
    form.dataset.ready = "1";
  }

  trackMap();
  recorder();
})();
