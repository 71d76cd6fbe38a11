// iotgw's page works without this script; it adds live updates (Server-
// Sent Events from /api/v1/stream) and buttons that answer in place.
(function () {
  'use strict';
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute('content') : '';

  // Forms marked data-confirm ask first, in the page: an in-app browser
  // (a web view) may answer window.confirm "no" without showing it, and
  // the button would do nothing. Forms marked data-fetch post in the
  // background and show the answer.
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (!form.hasAttribute) { return; }
    if (form.hasAttribute('data-confirm')) {
      if (form.getAttribute('data-confirmed') !== 'yes') {
        e.preventDefault();
        ask(form, e.submitter);
        return;
      }
      form.removeAttribute('data-confirmed');
    }
    if (!form.hasAttribute('data-fetch') || !window.fetch) { return; }
    e.preventDefault();
    var result = form.parentNode.querySelector('.result');
    var body = new URLSearchParams(new FormData(form));
    if (result) { result.textContent = '…'; }
    fetch(form.action, {
      method: 'POST', body: body, credentials: 'same-origin',
      headers: { 'Accept': 'application/json', 'X-CSRF-Token': csrf }
    }).then(function (r) { return r.json(); }).then(function (j) {
      if (result) { result.textContent = j.ok ? j.message : j.error; }
      if (j.ok && form.action.indexOf('/alerts/enabled') >= 0) { refresh(); }
    }).catch(function () {
      if (result) { result.textContent = 'The router did not answer.'; }
    });
  });

  // ask shows the form's question after it with a button that sends the
  // form and one that takes the question back.
  function ask(form, submitter) {
    var box = form.nextElementSibling;
    if (box && box.classList.contains('confirm')) { box.querySelector('button').focus(); return; }
    box = document.createElement('div');
    box.className = 'confirm row';
    box.setAttribute('role', 'alert');
    var question = document.createElement('p');
    question.textContent = form.getAttribute('data-confirm');
    var yes = document.createElement('button');
    yes.type = 'button';
    yes.className = 'yes' + (submitter && submitter.classList.contains('danger') ? ' danger' : '');
    yes.textContent = 'Yes, ' + (submitter ? submitter.textContent.toLowerCase() : 'go on');
    var no = document.createElement('button');
    no.type = 'button';
    no.className = 'no';
    no.textContent = 'Cancel';
    yes.addEventListener('click', function () {
      box.remove();
      form.setAttribute('data-confirmed', 'yes');
      if (form.requestSubmit) { form.requestSubmit(submitter || undefined); } else { form.submit(); }
    });
    no.addEventListener('click', function () {
      box.remove();
      if (submitter) { submitter.focus(); }
    });
    box.appendChild(question);
    box.appendChild(yes);
    box.appendChild(no);
    form.parentNode.insertBefore(box, form.nextSibling);
    yes.focus();
  }

  // Live pages re-read themselves, at most every two seconds, when the
  // daemon reports something, unless the owner is typing in a form.
  var timer = null;
  function refresh() {
    var active = document.activeElement;
    if (active && active.form && active.tagName !== 'BUTTON') { schedule(); return; }
    // Nor under an open question: it would vanish with the old page.
    if (document.querySelector('.confirm')) { schedule(); return; }
    fetch(location.href, { credentials: 'same-origin' }).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (!html) { return; }
      var fresh = new DOMParser().parseFromString(html, 'text/html').getElementById('main');
      var main = document.getElementById('main');
      if (fresh && main) {
        // Keep open <details> open.
        var open = {};
        main.querySelectorAll('details[open] > summary').forEach(function (s) { open[s.textContent] = true; });
        fresh.querySelectorAll('details > summary').forEach(function (s) { if (open[s.textContent]) { s.parentNode.open = true; } });
        main.replaceWith(fresh);
      }
    }).catch(function () {});
  }
  function schedule() {
    if (timer) { return; }
    timer = setTimeout(function () { timer = null; refresh(); }, 2000);
  }
  // A live page holds one stream connection; browsers allow about six
  // HTTP/1.1 connections to a host, so a few tabs left open would leave
  // none for the page itself. A hidden tab closes its stream, and
  // catches up when it is shown again.
  var es = null;
  function stream(on) {
    if (on && !es) {
      es = new EventSource('/api/v1/stream');
      es.addEventListener('finding', schedule);
      es.addEventListener('observation', schedule);
    } else if (!on && es) {
      es.close();
      es = null;
    }
  }
  if (document.body.hasAttribute('data-live') && window.EventSource) {
    stream(!document.hidden);
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden && !es) { refresh(); }
      stream(!document.hidden);
    });
  }
})();
