-- A pandoc filter for build.py: each Div of the document is a page, and becomes that page's
-- HTML, as `pandoc -f json -t html5 OPTIONS -V key=value ...` writes it on its own: with the
-- options of the command line (the template, --toc, --highlight-style) and the template
-- variables in the Div's attributes. One pandoc writes every page: pandoc is slow to start.
-- Needs pandoc 2.17 or later (pandoc.write; Debian 12 has 2.17).
--
--     pandoc -f json -t json --lua-filter tools/site/write.lua --template T --toc ...
--     [Div (key=value ...) [blocks], ...]   ->   [RawBlock html, ...]

function Pandoc(doc)
  local pages = {}
  for _, div in ipairs(doc.blocks) do
    local variables = {}
    for key, value in pairs(div.attributes) do
      variables[key] = value
    end
    local options = PANDOC_WRITER_OPTIONS
    options.variables = variables
    pages[#pages + 1] = pandoc.RawBlock("html", pandoc.write(pandoc.Pandoc(div.content), "html5", options))
  end
  return pandoc.Pandoc(pages)
end
