-- A pandoc reader for build.py: each input file is read as GitHub Markdown on its own, as
-- `pandoc -f gfm -t json FILE` reads it (its own header ids, link references and footnotes),
-- and becomes one Div of the result, in the order of the files. One pandoc reads every page:
-- pandoc is slow to start. Needs pandoc 2.17 or later (readers given each file; Debian 12 has
-- 2.17).
--
--     pandoc -f tools/site/read.lua -t json a.md b.md   ->   [Div [a's blocks], Div [b's blocks]]

function Reader(sources)
  local pages = {}
  for _, source in ipairs(sources) do
    pages[#pages + 1] = pandoc.Div(pandoc.read(source.text, "gfm").blocks)
  end
  return pandoc.Pandoc(pages)
end
