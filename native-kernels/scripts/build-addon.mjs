console.log("addon build placeholder")
