/**
 * Forenames and their diminutives ("known-as" names): Bill for William, Peggy for Margaret,
 * Harry for Henry or Harold. The forename comparison uses it for a level between a spelling
 * match and a different name (comparisons.ts).
 *
 * Source: written for this project from general knowledge of English-language given names and
 * their customary short and pet forms, as recorded in standard references on given names (for
 * example the Oxford Dictionary of First Names, Hanks and Hodges) and in the nickname tables
 * record-linkage tools commonly ship. It lists names common in UK council data (British, Irish,
 * Scottish and Welsh use, and the common spellings of Muhammad). It is deliberately independent
 * of the synthetic generator's own list (src/synth/pools.ts), which must not be the matcher's
 * answer key.
 *
 * Format: one family per line, `formal forms: diminutives`. The formal forms of a line are
 * spelling variants of one name (Katherine, Catherine, Kathryn); the diminutives are its short and
 * pet forms. A diminutive may belong to several families (Harry: Henry and Harold; Sam: Samuel
 * and Samantha), but two different formal names never make one family through a shared
 * diminutive: Henry and Harold are not the same name, though both can be Harry.
 */
const FAMILIES = `
aaron: ron ronnie
abigail: abby abbie abi gail
abraham: abe abram bram
adam: ade
adrian: ade
agatha: aggie
agnes: aggie nessie nessa
alan allan allen: al
albert: al bert bertie
alexander: alex alec alek alexi sandy xander lex al ali
alexandra: alex alexa lexi lexie sandra sandy ali alix
alfred: alf alfie fred freddie freddy
alice: ally allie
alicia: ali ally lissa
alison allison: ali ally allie
alistair alastair alasdair: ali al
amanda: mandy manda
amelia: millie milly amy mel
andrew: andy drew
angela: angie ange
angelina: angie lina
annabel annabelle: bella belle annie
ann anne anna: annie nan nancy nanette
anthony antony: tony ant
antoinette: toni netta
antonia: toni
archibald: archie arch
arnold: arnie
arthur: art artie
ashley: ash
augustus augustine: gus
barbara: babs barb barbie bobbie
barnabas barnaby: barney
bartholomew: bart
beatrice beatrix: bea bee trixie
benedict: ben benny
benjamin: ben benny benji
bernadette: bernie
bernard: bernie barney
bethany: beth
beverley beverly: bev
bradley: brad
brian bryan: bri
bridget brigid bridgette: biddy bridie
callum calum: cal
calvin: cal
camilla: milly cammy
caroline carolyn carolina: carol carrie caro
cassandra: cass cassie
cecilia cecily: cissy cissie celia
charles: charlie chas chaz chuck chay
charlotte: charlie lottie lotty lotte
christian: chris
christina christine: chris chrissie christy tina kirsty kirstie
christopher: chris kit topher
clarence: clarry
clement: clem
clementine: clem
clifford: cliff
colin: col
constance: connie
cornelius: con neil
cynthia: cindy
daniel: dan danny
daniella danielle: dani
daphne: daph
david dafydd: dave davey davy dai
deborah debra: debbie debs deb
denis dennis: den denny
derek derrick: del
desmond: des dez
diana: di
dolores: lola
dominic: dom
donald: don donnie
dorothy: dot dottie dolly dodie
douglas: doug dougie
edgar: ed eddie
edith: edie
edmund: ed eddie ned ted
edward: ed eddie eddy ted teddy ned
edwin: ed eddie
eleanor elinor eleanore: ellie ella nell nellie nora elle
elias: eli
elijah: eli
elizabeth elisabeth: liz lizzie lizzy liza eliza beth betty bet bess bessie betsy libby lisa elsie lilibet
ellen: nell nellie
emily: em emmy millie
emma: em emmy
emmanuel immanuel emanuel: manny
ernest: ernie
esther: essie
eugene: gene
eugenie eugenia: genie
evangeline: eva evie
evelyn: evie eve
ezekiel: zeke
fergus: fergie
finlay finley: finn
florence: flo flossie florrie
frances: fran frankie fanny franny
francesca: fran frankie cesca
francis: frank frankie fran
franklin: frank
frederica: freda freddie
frederick frederic: fred freddie freddy
gabriel: gabe gabby
gabriella gabrielle: gabby gabi ella
gareth: gaz
gary: gaz
geoffrey jeffrey: geoff jeff
george: georgie geordie
georgina georgia: georgie gina
gerald: gerry jerry ged
geraldine: gerry jerry
gerard: gerry ged
gertrude: gertie trudy
gilbert: gil bert
gillian: gill jill gilly
gordon: gordy
gregory: greg
gwendolyn gwendoline: gwen wendy
harold: harry hal
harriet: hattie hatty
harvey: harv
helen helena: nell nellie lena
henrietta: hetty etta
henry: harry hal hank
herbert: herb bert bertie
hilary hillary: hil
howard: howie
hubert: bert
hugh hugo: hughie
imogen: immy
isaac: ike
isabel isabella isobel isabelle: izzy izzie issy bella belle
jacob: jake
jacqueline: jackie jacqui jacky
james: jim jimmy jamie jimbo jem
jane: janey jenny
janet: jan jenny
janice: jan
jason: jay
jemima: jem mima
jennifer: jen jenny jenn
jeremiah: jerry
jeremy: jerry jez
jerome: jerry
jessica: jess jessie
joan: joanie
joanne joanna johanna: jo
john: jack johnny jon jonny
jonathan: jon jonny jonty
joseph: joe joey jo
josephine: jo josie
joshua: josh
judith: judy jude
julia juliet juliette: jules julie
julian: jules
katherine catherine kathryn katharine catharine: kate katie katy cath cathy kathy kath kat cat kitty kay
kathleen: kath kathy kay
katrina: kat trina
kenneth: ken kenny
kevin: kev
kimberley kimberly: kim
lancelot: lance
laura: laurie lori
lawrence laurence: larry laurie lol
leonard: len lenny leo
leonora: nora
leopold: leo
leslie lesley: les
lewis louis: lou lew
lilian lillian: lily lil
louise louisa: lou lulu
madeleine madeline madelyn: maddie maddy
magdalene magdalena: maggie lena
malcolm: mal
margaret: maggie mags meg peggy peg madge marge margie greta maisie daisy rita
marjorie margery: marge margie
martha: mattie marty
martin: marty
mary: molly polly mae may mamie minnie
matilda mathilda: tilly tillie tilda mattie
matthew: matt matty
maureen: mo
maurice morris: mo
maximilian: max
maxine: max
maxwell: max
melanie: mel
melissa: mel missy lissa
mervyn: merv
michael: mike mikey mick micky mickey
michelle: shell chelle
millicent: millie milly
mildred: millie
miriam: mim
montague montgomery: monty
mortimer: mort morty
muhammad mohammed mohammad mohamed mohamad muhammed mohammod: mo
natalie nathalie natalia: nat tally
natasha: tash tasha nat
nathan: nate nat
nathaniel nathanael: nathan nate nat
neville: nev
nicholas: nick nicky nico
nicola nicole: nicky nikki
nigel: nige
norman: norm
oliver: ollie olly
olivia: liv livvy livvie ollie
oswald: oz ozzy
pamela: pam pammy
patricia: pat patty patsy trish tricia trisha
patrick: pat paddy
penelope: penny pen
percival: percy
peregrine: perry
peter: pete
philip phillip: phil pip
philippa phillipa: pippa pip
phyllis: phil
priscilla: cilla
prudence: prue pru
rachel: rach
randolph: randy
raphael rafael: raff rafe rafa
raymond: ray
rebecca: becky becca bex beck
reginald: reg reggie
reuben: rube
rhiannon: rhi
richard: rich richie rick ricky dick dicky
robert: rob robbie robby bob bobby bert bertie
roberta: bobbie robbie
roderick: rod roddy
rodney: rod
roger: rodge
roland rowland: roly
ronald: ron ronnie
rosalind rosamund: ros roz
rosemary: rose rosie
roxanne: roxy
russell: russ
samantha: sam sammy sammie
samson sampson: sam
samuel: sam sammy
sebastian: seb
sharon: shaz
sidney sydney: sid
simon: si
solomon: sol
sophia: sophie soph
stanley: stan
stephanie: steph steffi
stephen steven: steve stevie
stuart stewart: stu
susan: sue susie suzy sukie
susannah susanna suzanne: sue susie suzy sukie
sylvester: sly
sylvia: syl
tabitha: tabby
tamara: tammy
tamsin thomasina: tammy
terence terrance terrence: terry tel
theodora: dora teddy
theodore: theo ted teddy
theresa teresa: tess tessa terri terry
thomas: tom tommy thom
timothy: tim timmy
tobias: toby
trevor: trev
tristan tristram: tris
valentine: val
valerie: val
vanessa: nessa ness
veronica: ronnie roni
victor: vic
victoria: vicky vicki vic tori tory
vincent: vince vinny
virginia: ginny ginnie
vivian vivien vivienne: viv
wallace: wally
walter: walt wally
wesley: wes
wilfred wilfrid: wilf fred
wilhelmina: mina minnie billie
william: bill billy will willie willy liam wills
winifred: winnie freda
winston: win
yvonne: vonnie
zachary zachariah zacharias: zach zack zac
`;

/** Family ids by name (a name may belong to several families). */
const FAMILIES_OF = new Map<string, number[]>();

/** Formal names (every name before a line's `:`), in table order. */
export const FORMAL_NAMES: readonly string[] = (() => {
  const formal: string[] = [];
  FAMILIES.trim()
    .split('\n')
    .forEach((line, family) => {
      const [head, tail = ''] = line.split(':');
      const heads = head!.trim().split(/\s+/);
      formal.push(...heads);
      for (const name of [...heads, ...tail.trim().split(/\s+/).filter(Boolean)]) {
        const list = FAMILIES_OF.get(name);
        if (!list) FAMILIES_OF.set(name, [family]);
        else if (!list.includes(family)) list.push(family);
      }
    });
  return formal;
})();

const NONE: readonly number[] = [];

/** The families of a normalised forename; a double name (`mary ann`, `anne-marie`) not in the table by its first part. */
function familiesOf(name: string): readonly number[] {
  const direct = FAMILIES_OF.get(name);
  if (direct) return direct;
  const cut = name.search(/[ -]/);
  return cut > 0 ? (FAMILIES_OF.get(name.slice(0, cut)) ?? NONE) : NONE;
}

/**
 * Whether two different normalised (lower-case) forenames are forms of one name: a name and its
 * diminutive (william, bill), two diminutives of one name (bill, will), or two spellings of one
 * formal name (katherine, catherine). Identical names return false: that is the exact level's
 * business. No allocation: two map look-ups and a scan of tiny lists.
 */
export function sameNameFamily(a: string, b: string): boolean {
  if (a === b) return false;
  const fa = familiesOf(a);
  if (fa.length === 0) return false;
  const fb = familiesOf(b);
  for (let i = 0; i < fa.length; i++) {
    for (let j = 0; j < fb.length; j++) if (fa[i] === fb[j]) return true;
  }
  return false;
}

/** Number of families (formal names with their variants) in the table. */
export const NAME_FAMILY_COUNT = FAMILIES.trim().split('\n').length;
