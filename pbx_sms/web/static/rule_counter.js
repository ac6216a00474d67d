// The rule form's live counter: while the message is typed, ask the API's preview (the one implementation
// of the encoding rules) and show its answer in the counter the server rendered. Without scripting the
// counter shows the text as last posted, and the "Count the text" button refreshes it.
(function () {
  "use strict";
  var DEBOUNCE_MS = 250;
  var box = document.getElementById("counter");
  var text = document.getElementById("text");
  var transliterate = document.getElementById("transliterate");
  if (!box || !text || !transliterate || !window.fetch) {
    return;
  }
  var countButton = document.querySelector("button[name=intent][value=count]");
  if (countButton) {
    countButton.hidden = true;
  }
  var timer = null;
  var asked = 0;

  function part(name) {
    return box.querySelector('[data-counter="' + name + '"]');
  }

  function put(name, value) {
    part(name).textContent = String(value);
  }

  // The text with each character that forces UCS-2 in a <mark>; positions count code points.
  function showSample(measure) {
    var target = part("sample");
    var marked = {};
    measure.ucs2_characters.forEach(function (item) {
      item.positions.forEach(function (position) {
        marked[position] = true;
      });
    });
    target.textContent = "";
    Array.from(measure.text).forEach(function (character, index) {
      var last = target.lastChild;
      var wanted = marked[index] === true;
      var lastMarked = last !== null && last.nodeName === "MARK";
      if (last !== null && lastMarked === wanted) {
        last.textContent += character;
      } else if (wanted) {
        var mark = document.createElement("mark");
        mark.textContent = character;
        target.appendChild(mark);
      } else {
        target.appendChild(document.createTextNode(character));
      }
    });
  }

  function show(answer) {
    put("encoding", answer.encoding);
    put("characters", answer.characters);
    put("parts", answer.parts);
    put("left", answer.left_in_last_part);
    put("ucs2", answer.ucs2_characters.map(function (item) { return item.character; }).join(" "));
    part("ucs2-line").hidden = answer.ucs2_characters.length === 0;
    showSample(answer);
    put("transliterated-encoding", answer.transliterated.encoding);
    put("transliterated-parts", answer.transliterated.parts);
    put("transliterated-characters", answer.transliterated.characters);
    var problems = part("problems");
    problems.textContent = "";
    answer.problems.forEach(function (problem) {
      var item = document.createElement("li");
      item.textContent = problem.message;
      problems.appendChild(item);
    });
    problems.hidden = answer.problems.length === 0;
    box.dataset.state = "current";
  }

  function ask() {
    var mine = ++asked;
    box.dataset.state = "asking";
    fetch(box.dataset.previewUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept-Language": document.documentElement.lang,
        "X-CSRF-Token": box.dataset.csrf
      },
      body: JSON.stringify({ text: text.value.replace(/\r\n/g, "\n"), transliterate: transliterate.checked })
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("preview answered " + response.status);
      }
      return response.json();
    }).then(function (answer) {
      if (mine === asked) {  // an older answer arriving late must not replace a newer one
        show(answer);
      }
    }).catch(function () {
      if (mine === asked) {
        box.dataset.state = "stale";
      }
    });
  }

  text.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, DEBOUNCE_MS);
  });
  transliterate.addEventListener("change", ask);
})();
